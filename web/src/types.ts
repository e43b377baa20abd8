// The JSON the CADScribe API answers, under the names the client uses.
//
// The shapes are the gateway's own: src/generated/api.ts is generated from
// its OpenAPI document (docs/openapi.json; see README.md), and the names here
// alias those schemas. Only what the document cannot say is written here,
// each with its reason.

import type { components } from './generated/api';
import type { JobStage } from './generated/stages';

type Schemas = components['schemas'];

// The job stages come from the domain with their rules (src/generated/stages.ts);
// the API's JobStage is the same list, which this line checks at compile time.
export type { JobStage };
true satisfies Same<JobStage, Schemas['JobStage']>;

export type ProjectStatus = Schemas['ProjectStatus'];
export type ProcessingStatus = Schemas['ProcessingStatus'];
export type ModelFormat = Schemas['ModelFormat'];
/** Every format, in the API's order (a list the UI iterates; the check below keeps it complete). */
export const MODEL_FORMATS = ['FCStd', 'STEP', 'STL', 'OBJ', 'GLB', '3MF', 'PNG'] as const satisfies readonly ModelFormat[];
true satisfies Same<ModelFormat, (typeof MODEL_FORMATS)[number]>;

export type ErrorBody = Schemas['ErrorBody'];
export type User = Schemas['UserView'];
export type Token = Schemas['TokenView'];

/**
 * A page of a list (`GET /api/projects`, `…/messages`, `/api/jobs`).
 * Client-only: the document names one schema per item type, the client
 * reads them all through one generic.
 */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export type Project = Schemas['ProjectView'];
export type Message = Schemas['MessageView'];

/** One check of a built model against what was asked. */
export type VerificationCheck = Schemas['Check'];
export type Verification = Schemas['Verification'];
/** What a job asks instead of guessing a dimension; the next message answers it. */
export type Question = Schemas['Question'];
/** Why a run failed: its class, the script line and its text, FreeCAD's console and a suggestion. */
export type Diagnosis = Schemas['Diagnosis'];
export type ModelMetrics = Schemas['ModelMetrics'];
/** The mass of a model in its project's material. */
export type Mass = Schemas['MassView'];
export type StageEntry = Schemas['StageView'];
export type Job = Schemas['JobView'];
export type JobLinks = Schemas['JobLinks'];
export type Accepted = Schemas['AcceptedView'];
/** One `event: status` frame of `GET /api/projects/{id}/events`. */
export type StatusEvent = Schemas['StatusEvent'];
export type ScriptVersion = Schemas['ScriptVersionView'];
export type Scripts = Schemas['ScriptsView'];
/** What a parameter measures: lengths and positions in mm, angles in degrees. */
export type ParameterKind = Schemas['ParameterKind'];
/** One named dimension of a part spec. */
export type Parameter = Schemas['Parameter'];
/** `GET /api/projects/{project}/spec`: a version's part spec and its named dimensions. */
export type SpecView = Schemas['SpecView'];
export type Output = Schemas['OutputView'];
export type Outputs = Schemas['OutputsView'];
export type Download = Schemas['DownloadView'];
export type LogRecord = Schemas['LogView'];
export type LogFile = Schemas['LogFileView'];
export type Logs = Schemas['LogsView'];
export type ProjectStatusView = Schemas['StatusView'];

/** `true` when A and B are the same set of values. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
