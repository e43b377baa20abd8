// The JSON the CADScribe API answers (see docs/API.md), as the client uses it.

import type { JobStage } from './generated/stages';

// Generated from the domain's job stages (src/generated/stages.ts).
export type { JobStage };

export type ProjectStatus = 'draft' | 'processing' | 'completed' | 'error' | 'timeout';
export type ProcessingStatus = 'no_scripts' | 'processing' | 'completed' | 'timeout' | 'error';
export type ModelFormat = 'FCStd' | 'STEP' | 'STL' | 'OBJ' | 'GLB' | '3MF' | 'PNG';
export const MODEL_FORMATS: readonly ModelFormat[] = ['FCStd', 'STEP', 'STL', 'OBJ', 'GLB', '3MF', 'PNG'];

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export interface User {
  user_id: string;
  email: string;
  role: string;
  created_at?: string | null;
}

export interface Token {
  access_token: string;
  token_type: string;
  expires_in: number;
  user: User;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Project {
  project_id: string;
  project_name: string;
  slug: string;
  description?: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
  current_version: number;
  status: ProjectStatus;
  processing_status: ProcessingStatus;
  ai_model_used?: string | null;
}

export interface Message {
  message_id: string;
  project_id: string;
  role: 'user' | 'assistant' | 'system' | string;
  content: string;
  timestamp: string;
  job_id?: string | null;
}

/** One check of a built model against what was asked. */
export interface VerificationCheck {
  name: string;
  expected: string;
  measured: string;
  passed: boolean;
}

export interface Verification {
  checks: VerificationCheck[];
  passed: boolean;
}

/** What a job asks instead of guessing a dimension; the next message answers it. */
export interface Question {
  text: string;
  what?: string;
  prompt: string;
}

/** Why a run failed: its class, the script line and its text, FreeCAD's console and a suggestion. */
export interface Diagnosis {
  class: 'syntax' | 'refused' | 'exception' | 'no_solid' | 'invalid_solid' | 'verification' | 'limit' | 'crash';
  message: string;
  line?: number | null;
  code?: string | null;
  console?: string[];
  suggestion: string;
}

export interface ModelMetrics {
  /** mm³ */
  volume: number;
  /** mm² */
  surface_area: number;
  /** [xmin, ymin, zmin, xmax, ymax, zmax] in mm */
  bounding_box: [number, number, number, number, number, number];
  solids: number;
  valid: boolean;
  /** [x, y, z] in mm; absent from models measured before it was recorded */
  center_of_mass?: [number, number, number] | null;
  /** Matrix of inertia about the centre of mass for unit density, mm⁵ (rows x, y, z) */
  inertia?: [[number, number, number], [number, number, number], [number, number, number]] | null;
}

/** The mass of a model in its project's material. */
export interface Mass {
  grams: number;
  material: { material: string; name: string; density_g_cm3: number };
}

export interface StageEntry {
  stage: JobStage;
  label: string;
  at: string;
  detail?: string | null;
}

export interface Job {
  job_id: string;
  project_id: string;
  slug: string;
  kind: string;
  stage: JobStage;
  label: string;
  terminal: boolean;
  version?: number | null;
  error?: string | null;
  history: StageEntry[];
  metrics?: ModelMetrics | null;
  /** Set when the project has a material. */
  mass?: Mass | null;
  verification?: Verification | null;
  verification_summary?: string | null;
  diagnosis?: Diagnosis | null;
  question?: Question | null;
  outputs: Record<string, string>;
  created_at: string;
  updated_at: string;
  finished_at?: string | null;
}

export interface JobLinks {
  job: string;
  events: string;
  status: string;
}

export interface Accepted {
  job_id: string;
  project_id: string;
  slug: string;
  stage: JobStage;
  published: boolean;
  links: JobLinks;
}

/** One `event: status` frame of `GET /api/projects/{id}/events`. */
export interface StatusEvent {
  job_id: string;
  project_id: string;
  slug: string;
  stage: JobStage;
  label: string;
  version?: number | null;
  detail?: string | null;
  terminal: boolean;
  at: string;
  diagnosis?: Diagnosis | null;
  question?: Question | null;
}

export interface ScriptVersion {
  version: number;
  file_name: string;
  s3_key: string;
  size?: number | null;
  generated_by?: string | null;
  job_id?: string | null;
  created_at: string;
  url: string;
  /** `GET` of the version's part spec; absent when it was not built from one. */
  spec_url?: string | null;
}

export interface Scripts {
  project_id: string;
  slug: string;
  current_version: number;
  /** Newest first. */
  versions: ScriptVersion[];
}

/** What a parameter measures: lengths and positions in mm, angles in degrees. */
export type ParameterKind = 'length' | 'position' | 'count' | 'angle';

/** One named dimension of a part spec. */
export interface Parameter {
  name: string;
  value: number;
  kind: ParameterKind;
  /** For people: "thickness", "hole diameter". */
  label: string;
}

/** `GET /api/projects/{project}/spec`: a version's part spec and its named dimensions. */
export interface SpecView {
  version: number;
  /** The part family (`plate`, `flange`, …). */
  part: string;
  /** The spec itself; the client only edits it through its parameters. */
  spec: Record<string, unknown>;
  /** In the order of the spec. */
  parameters: Parameter[];
}

export interface Output {
  version: number;
  format: ModelFormat;
  file_name: string;
  s3_key: string;
  size?: number | null;
  created_at: string;
  download: string;
}

export interface Outputs {
  project_id: string;
  slug: string;
  latest_version?: number | null;
  outputs: Output[];
  by_version: Record<string, Output[]>;
}

export interface Download {
  url: string;
  expires_in: number;
  expires_at: string;
  format: ModelFormat;
  version: number;
  file_name: string;
  size?: number | null;
}

export interface LogRecord {
  project_id: string;
  version: number;
  s3_log_path: string;
  log_summary: string;
  timestamp: string;
  metadata?: Record<string, unknown>;
}

export interface LogFile {
  key: string;
  file_name: string;
  size: number;
  version?: number | null;
  /** Pre-signed GET of the whole log. */
  url?: string;
}

export interface Logs {
  project_id: string;
  slug: string;
  items: LogRecord[];
  total: number;
  log_files: LogFile[];
}

export interface ProjectStatusView {
  project_id: string;
  slug: string;
  status: ProcessingStatus;
  project_status: ProjectStatus;
  current_version: number;
  latest_job?: { job_id: string; stage: JobStage; label: string; error?: string | null } | null;
}
