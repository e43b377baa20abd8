// Client state: a tiny observable store and the pure rules the views follow
// (how live status events update a job, which steps of the pipeline a job
// has passed, which version's model to show, how projects are ordered).

import { JOB_STAGES, STAGE_RULES } from './generated/stages';
import type { Diagnosis, Job, JobStage, Mass, Question, ModelMetrics, Output, Project, StatusEvent, VerificationCheck } from './types';

/** A value with subscribers. */
export class Store<T> {
  private value: T;
  private readonly listeners = new Set<(value: T) => void>();

  constructor(initial: T) {
    this.value = initial;
  }

  get(): T {
    return this.value;
  }

  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const fn of [...this.listeners]) fn(value);
  }

  update(fn: (value: T) => T): void {
    this.set(fn(this.value));
  }

  subscribe(fn: (value: T) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** What a person sees while a job is in each stage, as the domain names it. */
export const LABELS = Object.fromEntries(JOB_STAGES.map((stage) => [stage, STAGE_RULES[stage].label])) as Record<JobStage, string>;

export function isTerminal(stage: JobStage): boolean {
  return STAGE_RULES[stage].terminal;
}

/** Whether the domain lets a job move from one stage to the other. */
export function canTransition(from: JobStage, to: JobStage): boolean {
  return (STAGE_RULES[from].next as readonly JobStage[]).includes(to);
}

/** What the client knows of one job. */
export interface JobState {
  job_id: string;
  stage: JobStage;
  label: string;
  /** The furthest working stage reached (where a failure happened). */
  reached: JobStage;
  detail: string | null;
  version: number | null;
  terminal: boolean;
  at: string;
  /** `generate` or `upload` when known (an upload has no generating step). */
  kind?: string;
  /** Why a failed job failed (class, line, suggestion). */
  diagnosis?: Diagnosis | null;
  /** What a `needs_input` job asks. */
  question?: Question | null;
}

export type Jobs = Readonly<Record<string, JobState>>;

/**
 * Whether news that a job is in `stage` (as of `at`) moves it on from what
 * is known: the domain allows the move, or the stage is the same with newer
 * details. A legal move back to a lower rank (the repair of a failed script,
 * processing → generating) must be newer than what is known, or it is a late
 * event from before. Forward moves need no clock: only a repair goes back, and
 * a job the client starts following carries the browser's clock, not the
 * server's.
 */
function movesOn(known: JobState, stage: JobStage, at: string): boolean {
  if (stage === known.stage) return !known.terminal && at >= known.at;
  if (!canTransition(known.stage, stage)) return false;
  const from = STAGE_RULES[known.stage].rank;
  const to = STAGE_RULES[stage].rank;
  const back = from !== null && to !== null && to < from;
  return !back || at > known.at;
}

/**
 * Applies one status event when the domain allows the move; a late, repeated
 * or illegal event is ignored (the same object is returned, so nothing
 * re-renders). A terminal stage ends everything.
 */
export function applyStatus(jobs: Jobs, ev: StatusEvent): Jobs {
  const known = jobs[ev.job_id];
  if (known) {
    if (!movesOn(known, ev.stage, ev.at)) return jobs;
    if (ev.stage === known.stage && (ev.detail ?? null) === known.detail && (ev.version ?? null) === known.version) {
      return jobs;
    }
  }
  const reached = STAGE_RULES[ev.stage].working ? ev.stage : (known?.reached ?? (ev.stage === 'completed' ? 'processing' : 'queued'));
  const next: JobState = {
    job_id: ev.job_id,
    stage: ev.stage,
    label: ev.label || LABELS[ev.stage] || ev.stage,
    reached,
    detail: ev.detail ?? null,
    version: ev.version ?? known?.version ?? null,
    terminal: isTerminal(ev.stage),
    at: ev.at,
    ...(known?.kind && { kind: known.kind }),
    ...(ev.diagnosis && { diagnosis: ev.diagnosis }),
    ...(ev.question && { question: ev.question }),
  };
  return { ...jobs, [ev.job_id]: next };
}

/**
 * Merges what the API says of a job into the live state: the API's view
 * replaces an older stage, never a newer one (the stream may be ahead).
 */
export function mergeJob(jobs: Jobs, state: JobState): Jobs {
  const known = jobs[state.job_id];
  const kind = known?.kind ?? state.kind;
  const stale = known && !movesOn(known, state.stage, state.at);
  const same = known && known.stage === state.stage && known.detail === state.detail && known.version === state.version;
  if (known && (stale || same)) {
    // The API may know why a job failed when the event that said so was missed.
    const diagnosis = known.diagnosis ?? (known.stage === state.stage ? state.diagnosis : undefined);
    if (known.kind === kind && diagnosis === known.diagnosis) return jobs;
    return { ...jobs, [state.job_id]: { ...known, kind, ...(diagnosis && { diagnosis }) } };
  }
  return { ...jobs, [state.job_id]: { ...state, kind } };
}

/** A job as the API describes it, as client state. */
export function jobState(job: Job): JobState {
  const working = job.history.map((h) => h.stage).filter((s) => STAGE_RULES[s].working);
  const reached = working.length ? working[working.length - 1] : job.stage === 'completed' ? 'processing' : 'queued';
  const last = job.history[job.history.length - 1];
  return {
    job_id: job.job_id,
    stage: job.stage,
    label: job.label || LABELS[job.stage],
    reached,
    detail: job.error ?? last?.detail ?? null,
    version: job.version ?? null,
    terminal: isTerminal(job.stage),
    at: last?.at ?? job.updated_at,
    kind: job.kind,
    ...(job.diagnosis && { diagnosis: job.diagnosis }),
    ...(job.question && { question: job.question }),
  };
}

/** The newest job (by the time of its last event) among `jobs`. */
export function latestJob(jobs: Jobs): JobState | null {
  let best: JobState | null = null;
  for (const job of Object.values(jobs)) {
    if (!best || job.at > best.at) best = job;
  }
  return best;
}

export type StepState = 'done' | 'active' | 'pending' | 'failed';

export interface Step {
  stage: JobStage;
  label: string;
  state: StepState;
}

/** The four steps a person watches, and where a job is among them. */
export const STEPS: readonly JobStage[] = ['generating', 'uploading', 'processing', 'completed'];

export function timeline(job: Pick<JobState, 'stage' | 'reached' | 'kind'>): Step[] {
  const failed = job.stage === 'failed' || job.stage === 'timeout' || job.stage === 'cancelled';
  // Places on the happy path; a stage without one (a failure, a question)
  // stands where the job last worked.
  const place = (stage: JobStage): number => STAGE_RULES[stage].rank ?? STAGE_RULES[job.reached].rank ?? 0;
  const at = place(failed ? job.reached : job.stage);
  const steps = job.kind === 'upload' ? STEPS.filter((s) => s !== 'generating') : STEPS;
  return steps.map((stage) => {
    const rank = place(stage);
    let state: StepState;
    if (failed) {
      state = rank < at ? 'done' : rank === at ? 'failed' : 'pending';
      if (at === 0 && stage === steps[0]) state = 'failed';
    } else if (job.stage === 'completed') {
      state = 'done';
    } else {
      state = rank < at ? 'done' : rank === at ? 'active' : 'pending';
    }
    return { stage, label: LABELS[stage], state };
  });
}

/** Projects, most recently changed first. */
export function sortProjects(projects: Project[]): Project[] {
  return [...projects].sort((a, b) => (b.updated_at > a.updated_at ? 1 : b.updated_at < a.updated_at ? -1 : 0));
}

/** Versions that have model files, newest first. */
export function modelVersions(outputs: Output[]): number[] {
  return [...new Set(outputs.map((o) => o.version))].sort((a, b) => b - a);
}

/** The version whose model to show: the one asked for if it has files, else the newest. */
export function pickModelVersion(outputs: Output[], wanted?: number | null): number | null {
  const versions = modelVersions(outputs);
  if (wanted != null && versions.includes(wanted)) return wanted;
  return versions[0] ?? null;
}

/** The metrics of each version, from the project's completed jobs (newest wins). */
export function metricsByVersion(jobs: Job[]): Map<number, ModelMetrics> {
  const out = new Map<number, ModelMetrics>();
  const done = jobs
    .filter((j) => j.stage === 'completed' && j.version != null && j.metrics)
    .sort((a, b) => (a.updated_at < b.updated_at ? -1 : 1));
  for (const j of done) out.set(j.version as number, j.metrics as ModelMetrics);
  return out;
}

/** The mass of each version in the project's material, from its completed jobs (newest wins). */
export function massByVersion(jobs: Job[]): Map<number, Mass> {
  const out = new Map<number, Mass>();
  const done = jobs
    .filter((j) => j.stage === 'completed' && j.version != null && j.mass)
    .sort((a, b) => (a.updated_at < b.updated_at ? -1 : 1));
  for (const j of done) out.set(j.version as number, j.mass as Mass);
  return out;
}

/** The verification of each version, from the project's completed jobs (newest wins). */
export function verificationByVersion(jobs: Job[]): Map<number, { summary: string; checks: VerificationCheck[] }> {
  const out = new Map<number, { summary: string; checks: VerificationCheck[] }>();
  const done = jobs
    .filter((j) => j.stage === 'completed' && j.version != null && j.verification)
    .sort((a, b) => (a.updated_at < b.updated_at ? -1 : 1));
  for (const j of done) {
    out.set(j.version as number, { summary: j.verification_summary ?? '', checks: j.verification?.checks ?? [] });
  }
  return out;
}

/** The file to draw in the viewer: GLB first (the smallest and quickest to read), then STL, then OBJ. */
export function viewerFormat(outputs: Output[], version: number): 'GLB' | 'STL' | 'OBJ' | null {
  const formats = outputs.filter((o) => o.version === version).map((o) => o.format);
  return (['GLB', 'STL', 'OBJ'] as const).find((f) => formats.includes(f)) ?? null;
}

/** The title of a failure class, as the status card shows it. */
export const FAILURE_CLASSES: Record<Diagnosis['class'], string> = {
  syntax: 'Syntax error',
  refused: 'Refused',
  exception: 'FreeCAD exception',
  no_solid: 'No solid produced',
  invalid_solid: 'Invalid solid',
  verification: 'Verification failed',
  limit: 'Limit reached',
  crash: 'FreeCAD crashed',
};
