import { describe, expect, it, vi } from 'vitest';
import { JOB_STAGES, STAGE_RULES } from '../src/generated/stages';
import {
  applyStatus,
  canTransition,
  jobState,
  latestJob,
  mergeJob,
  massByVersion,
  metricsByVersion,
  modelVersions,
  pickModelVersion,
  sortProjects,
  Store,
  timeline,
  viewerFormat,
} from '../src/state';
import type { Jobs } from '../src/state';
import type { Job, JobStage, Output, Project, StatusEvent } from '../src/types';

// Each stage's event comes at its own second, in the domain's order.
const ev = (stage: JobStage, over: Partial<StatusEvent> = {}): StatusEvent => ({
  job_id: 'job-1',
  project_id: 'project-1',
  slug: 'part',
  stage,
  label: '',
  version: null,
  detail: null,
  terminal: STAGE_RULES[stage].terminal,
  at: `2026-01-01T00:00:0${JOB_STAGES.indexOf(stage)}Z`,
  ...over,
});

describe('Store', () => {
  it('tells subscribers about changes only', () => {
    const store = new Store(1);
    const seen = vi.fn();
    const off = store.subscribe(seen);
    store.set(1);
    store.set(2);
    store.update((n) => n + 1);
    off();
    store.set(9);
    expect(seen.mock.calls).toEqual([[2], [3]]);
  });
});

describe('applyStatus', () => {
  it('follows a job through its stages with the labels a person sees', () => {
    let jobs: Jobs = {};
    const labels: string[] = [];
    for (const stage of ['queued', 'generating', 'uploading', 'processing', 'completed'] as JobStage[]) {
      jobs = applyStatus(jobs, ev(stage, stage === 'completed' ? { version: 1 } : {}));
      labels.push(jobs['job-1'].label);
    }
    expect(labels).toEqual(['Queued…', 'Generating script…', 'Uploading to S3…', 'FreeCAD processing…', 'Model ready']);
    expect(jobs['job-1']).toMatchObject({ stage: 'completed', terminal: true, version: 1, reached: 'processing' });
  });

  it('shows the repair move the domain allows: processing back to generating', () => {
    expect(STAGE_RULES.processing.next).toContain('generating');
    let jobs = applyStatus({}, ev('processing'));
    jobs = applyStatus(jobs, ev('generating', { at: '2026-01-01T00:00:09Z', detail: 'Repairing the script (attempt 1)' }));
    expect(jobs['job-1']).toMatchObject({ stage: 'generating', label: 'Generating script…', detail: 'Repairing the script (attempt 1)' });
    jobs = applyStatus(jobs, ev('processing', { at: '2026-01-01T00:00:10Z' }));
    expect(jobs['job-1'].stage).toBe('processing');
    // The repaired script fails again: a second repair.
    jobs = applyStatus(jobs, ev('generating', { at: '2026-01-01T00:00:11Z', detail: 'Repairing the script (attempt 2)' }));
    expect(jobs['job-1']).toMatchObject({ stage: 'generating', detail: 'Repairing the script (attempt 2)' });
  });

  it('ignores a late event from before what it knows', () => {
    // generating from before processing is late news, not a repair.
    const jobs = applyStatus({}, ev('processing'));
    expect(applyStatus(jobs, ev('generating'))).toBe(jobs);
    // nor is an older event of the same stage news.
    const repaired = applyStatus(jobs, ev('generating', { at: '2026-01-01T00:00:09Z', detail: 'attempt 2' }));
    expect(applyStatus(repaired, ev('generating', { at: '2026-01-01T00:00:05Z', detail: 'attempt 1' }))).toBe(repaired);
    // The API's older view does not undo the stream's newer one.
    const older = jobState(job({ stage: 'generating', terminal: false, history: [{ stage: 'generating', label: '', at: '2026-01-01T00:00:05Z', detail: null }] }));
    expect(mergeJob(repaired, older)['job-1'].detail).toBe('attempt 2');
  });

  it('never moves a job backwards otherwise and ignores repeats', () => {
    let jobs = applyStatus({}, ev('processing'));
    expect(applyStatus(jobs, ev('uploading', { at: '2026-01-01T00:00:09Z' }))).toBe(jobs);
    expect(applyStatus(jobs, ev('processing'))).toBe(jobs);
    jobs = applyStatus(jobs, ev('completed', { version: 3 }));
    expect(applyStatus(jobs, ev('failed'))).toBe(jobs);
  });

  // From each stage to each other, as the generated table says: the client
  // follows the domain's transitions, whatever they become.
  const later = '2026-01-01T00:01:00Z';
  const pairs = JOB_STAGES.flatMap((from) => JOB_STAGES.filter((to) => to !== from).map((to) => [from, to] as const));
  const legal = pairs.filter(([from, to]) => (STAGE_RULES[from].next as readonly JobStage[]).includes(to));

  it.each(legal)('accepts the legal move %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    const jobs = applyStatus({}, ev(from));
    const next = applyStatus(jobs, ev(to, { at: later }));
    expect(next['job-1']).toMatchObject({ stage: to, label: STAGE_RULES[to].label, terminal: STAGE_RULES[to].terminal });
  });

  it.each(pairs.filter((p) => !legal.includes(p)))('ignores the illegal move %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    const jobs = applyStatus({}, ev(from));
    expect(applyStatus(jobs, ev(to, { at: later }))).toBe(jobs);
  });

  it('ends everything at a terminal stage', () => {
    for (const end of JOB_STAGES.filter((s) => STAGE_RULES[s].terminal)) {
      const jobs = applyStatus({}, ev(end));
      for (const stage of JOB_STAGES) expect(applyStatus(jobs, ev(stage, { at: later, detail: 'more' }))).toBe(jobs);
    }
  });

  it('remembers where a failure happened and its reason', () => {
    let jobs = applyStatus({}, ev('generating'));
    jobs = applyStatus(jobs, ev('uploading'));
    jobs = applyStatus(jobs, ev('failed', { detail: 'the broker is down', label: 'Failed' }));
    expect(jobs['job-1']).toMatchObject({ stage: 'failed', reached: 'uploading', detail: 'the broker is down', terminal: true });
  });

  it('keeps each job apart and finds the latest', () => {
    let jobs = applyStatus({}, ev('completed', { job_id: 'a', at: '2026-01-01T00:00:01Z' }));
    jobs = applyStatus(jobs, ev('generating', { job_id: 'b', at: '2026-01-01T00:00:05Z' }));
    expect(Object.keys(jobs)).toEqual(['a', 'b']);
    expect(latestJob(jobs)?.job_id).toBe('b');
    expect(latestJob({})).toBeNull();
  });
});

const job = (over: Partial<Job>): Job => ({
  job_id: 'job-1',
  project_id: 'project-1',
  slug: 'part',
  kind: 'generate',
  stage: 'completed',
  label: 'Model ready',
  terminal: true,
  version: 1,
  error: null,
  history: [
    { stage: 'generating', label: '', at: '2026-01-01T00:00:01Z', detail: null },
    { stage: 'uploading', label: '', at: '2026-01-01T00:00:02Z', detail: null },
    { stage: 'failed', label: '', at: '2026-01-01T00:00:03Z', detail: 'no space' },
  ],
  repair_attempts: 0,
  metrics: null,
  mass: null,
  expected: null,
  verification: null,
  verification_summary: null,
  diagnosis: null,
  question: null,
  outputs: {},
  request_id: null,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:03Z',
  finished_at: null,
  links: { job: '/api/jobs/job-1', events: '/api/projects/project-1/events', status: '/api/projects/project-1/status' },
  ...over,
});

describe('jobState and mergeJob', () => {
  it('reads where a stored job stopped', () => {
    const s = jobState(job({ stage: 'failed', label: 'Failed', error: 'the upload failed', version: null }));
    expect(s).toMatchObject({ stage: 'failed', reached: 'uploading', detail: 'the upload failed', at: '2026-01-01T00:00:03Z' });
  });

  it('lets the stream stay ahead of an older API answer', () => {
    const live = applyStatus({}, ev('processing'));
    const stale = jobState(job({ stage: 'generating', terminal: false, history: [{ stage: 'generating', label: '', at: '2026-01-01T00:00:01Z', detail: null }] }));
    const merged = mergeJob(live, stale);
    expect(merged['job-1']).toMatchObject({ stage: 'processing', kind: 'generate' });
    expect(mergeJob(merged, stale)).toBe(merged);
    const done = jobState(job({ stage: 'completed', history: [{ stage: 'completed', label: '', at: 'y', detail: null }] }));
    expect(mergeJob(live, done)['job-1'].stage).toBe('completed');
  });
});

describe('timeline', () => {
  const states = (stage: JobStage, reached: JobStage = stage) => timeline({ stage, reached }).map((s) => s.state);
  it('marks the steps done, active and pending', () => {
    expect(timeline({ stage: 'queued', reached: 'queued' }).map((s) => s.label)).toEqual([
      'Generating script…',
      'Uploading to S3…',
      'FreeCAD processing…',
      'Model ready',
    ]);
    expect(states('queued')).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(states('uploading')).toEqual(['done', 'active', 'pending', 'pending']);
    expect(states('completed', 'processing')).toEqual(['done', 'done', 'done', 'done']);
  });
  it('marks the step that failed', () => {
    expect(states('failed', 'processing')).toEqual(['done', 'done', 'failed', 'pending']);
    expect(states('failed', 'queued')).toEqual(['failed', 'pending', 'pending', 'pending']);
    expect(states('timeout', 'generating')).toEqual(['failed', 'pending', 'pending', 'pending']);
  });
});

describe('projects and versions', () => {
  it('orders projects most recently changed first', () => {
    const p = (id: string, updated_at: string) => ({ project_id: id, updated_at }) as Project;
    expect(sortProjects([p('a', '2026-01-01T00:00:00Z'), p('b', '2026-03-01T00:00:00Z'), p('c', '2026-02-01T00:00:00Z')]).map((x) => x.project_id)).toEqual(['b', 'c', 'a']);
  });

  const out = (version: number, format: Output['format']) => ({ version, format }) as Output;
  const outputs = [out(1, 'STL'), out(1, 'OBJ'), out(3, 'OBJ'), out(3, 'STEP')];

  it('picks the version to show and the file to draw', () => {
    expect(modelVersions(outputs)).toEqual([3, 1]);
    expect(pickModelVersion(outputs)).toBe(3);
    expect(pickModelVersion(outputs, 1)).toBe(1);
    expect(pickModelVersion(outputs, 2)).toBe(3);
    expect(pickModelVersion([], 2)).toBeNull();
    expect(viewerFormat(outputs, 1)).toBe('STL');
    expect(viewerFormat(outputs, 3)).toBe('OBJ');
    expect(viewerFormat(outputs, 2)).toBeNull();
    // GLB first: the smallest to fetch and the quickest to read.
    expect(viewerFormat([...outputs, out(1, 'GLB'), out(1, 'PNG')], 1)).toBe('GLB');
    expect(viewerFormat([out(4, 'PNG'), out(4, 'STEP')], 4)).toBeNull();
  });

  it('finds the metrics of each version', () => {
    const m = (volume: number) => ({ volume, surface_area: 1, bounding_box: [0, 0, 0, 1, 1, 1] as [number, number, number, number, number, number], solids: 1, valid: true });
    const map = metricsByVersion([
      job({ version: 1, metrics: m(10), updated_at: '2026-01-01T00:00:01Z' }),
      job({ version: 1, metrics: m(11), updated_at: '2026-01-01T00:00:05Z' }),
      job({ version: 2, stage: 'failed', metrics: m(99) }),
      job({ version: 3, metrics: null }),
    ]);
    expect([...map.keys()]).toEqual([1]);
    expect(map.get(1)?.volume).toBe(11);
  });

  it('finds the mass of each version in the project material', () => {
    const mass = (grams: number) => ({ grams, material: { material: 'pla' as const, name: 'PLA', density_g_cm3: 1.24 } });
    const map = massByVersion([
      job({ version: 1, mass: mass(7.44), updated_at: '2026-01-01T00:00:05Z' }),
      job({ version: 2, stage: 'failed', mass: mass(99) }),
      job({ version: 3, mass: null }),
    ]);
    expect([...map.keys()]).toEqual([1]);
    expect(map.get(1)?.material.name).toBe('PLA');
  });
});

describe('upload jobs', () => {
  it('have no generating step and keep their kind through events', () => {
    let jobs: Jobs = { u: { job_id: 'u', stage: 'queued', label: 'Queued…', reached: 'queued', detail: null, version: null, terminal: false, at: 'a', kind: 'upload' } };
    jobs = applyStatus(jobs, ev('uploading', { job_id: 'u' }));
    expect(jobs.u.kind).toBe('upload');
    expect(timeline(jobs.u).map((s) => [s.stage, s.state])).toEqual([
      ['uploading', 'active'],
      ['processing', 'pending'],
      ['completed', 'pending'],
    ]);
    expect(timeline({ stage: 'failed', reached: 'queued', kind: 'upload' }).map((s) => s.state)).toEqual(['failed', 'pending', 'pending']);
  });

  it('learn their kind from the API even when the stream is ahead', () => {
    const live = applyStatus({}, ev('processing'));
    const merged = mergeJob(live, { ...jobState(job({ stage: 'uploading', terminal: false, history: [] })), kind: 'upload' });
    expect(merged['job-1']).toMatchObject({ stage: 'processing', kind: 'upload' });
  });
});

describe('failures and questions', () => {
  const diagnosis = {
    class: 'exception' as const,
    message: 'Part.OCCError: BRep_API: command not done',
    line: 6,
    code: 'rounded = box.makeFillet(20, box.Edges)',
    suggestion: 'Use a smaller radius.',
  };

  it('keeps why a job failed, from the event or from the API', () => {
    let jobs: Jobs = applyStatus({}, ev('processing'));
    jobs = applyStatus(jobs, ev('failed', { detail: 'FreeCAD exception at line 6', diagnosis }));
    expect(jobs['job-1'].diagnosis?.line).toBe(6);
    // The stream missed the diagnosis; the API's view brings it.
    let missed: Jobs = applyStatus({}, ev('failed', { detail: 'x' }));
    expect(missed['job-1'].diagnosis).toBeUndefined();
    const stored = { ...jobState({ job_id: 'job-1', stage: 'failed', history: [], outputs: {}, label: '', kind: 'generate', terminal: true, project_id: 'p', slug: 's', created_at: '', updated_at: '' } as unknown as Job)!, detail: 'x', diagnosis };
    missed = mergeJob(missed, stored);
    expect(missed['job-1'].diagnosis?.class).toBe('exception');
  });

  it('ends a job that asks a question without a failure', () => {
    const question = { text: 'What outer diameter should the flange have?', what: 'outer diameter', prompt: 'a flange' };
    let jobs: Jobs = applyStatus({}, ev('generating'));
    jobs = applyStatus(jobs, ev('needs_input', { question, detail: question.text }));
    const job = jobs['job-1'];
    expect(job.terminal).toBe(true);
    expect(job.label).toBe('Waiting for your answer');
    expect(job.question?.text).toBe(question.text);
    // Nothing more happens to it.
    expect(applyStatus(jobs, ev('processing'))).toBe(jobs);
  });
});
