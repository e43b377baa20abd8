// Generated from `JobStage` in crates/domain/src/job.rs: do not edit.
// Regenerate with `UPDATE_SCHEMAS=1 cargo test -p domain --test web_stages`;
// `cargo test` fails while this file differs from the domain.

/** Every job stage, in the domain's order. */
export const JOB_STAGES = ["queued", "generating", "uploading", "processing", "completed", "failed", "timeout", "cancelled", "needs_input"] as const;

export type JobStage = (typeof JOB_STAGES)[number];

/** What the domain says of one stage. */
export interface StageRule {
  /** What a person sees while the job is in this stage. */
  readonly label: string;
  /** The job has ended; it moves nowhere from here. */
  readonly terminal: boolean;
  /** A service is working on the job: it has left the queue and not ended. */
  readonly working: boolean;
  /** Position on the happy path; terminal failures have none. A legal move to a lower rank is a repair. */
  readonly rank: number | null;
  /** The stages a job in this stage may move to. */
  readonly next: readonly JobStage[];
}

export const STAGE_RULES = {
  "queued": {
    label: "Queued…",
    terminal: false,
    working: false,
    rank: 0,
    next: ["generating", "uploading", "processing", "completed", "failed", "timeout", "cancelled", "needs_input"],
  },
  "generating": {
    label: "Generating script…",
    terminal: false,
    working: true,
    rank: 1,
    next: ["uploading", "processing", "completed", "failed", "timeout", "cancelled", "needs_input"],
  },
  "uploading": {
    label: "Uploading to S3…",
    terminal: false,
    working: true,
    rank: 2,
    next: ["processing", "completed", "failed", "timeout", "cancelled", "needs_input"],
  },
  "processing": {
    label: "FreeCAD processing…",
    terminal: false,
    working: true,
    rank: 3,
    next: ["generating", "completed", "failed", "timeout", "cancelled", "needs_input"],
  },
  "completed": {
    label: "Model ready",
    terminal: true,
    working: false,
    rank: 4,
    next: [],
  },
  "failed": {
    label: "Failed",
    terminal: true,
    working: false,
    rank: null,
    next: [],
  },
  "timeout": {
    label: "Timed out",
    terminal: true,
    working: false,
    rank: null,
    next: [],
  },
  "cancelled": {
    label: "Cancelled",
    terminal: true,
    working: false,
    rank: null,
    next: [],
  },
  "needs_input": {
    label: "Waiting for your answer",
    terminal: true,
    working: false,
    rank: null,
    next: [],
  },
} as const satisfies Record<JobStage, StageRule>;
