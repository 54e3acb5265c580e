/**
 * API types. The server's OpenAPI is the contract: everything here is the generated
 * `schema.d.ts` (scripts/gen_api_types.sh), re-exported under short names. Where the API
 * declares a free-form dict (session meta/metrics, model config, check records, Muon
 * settings), the documented keys (docs/nano_files.md, ttt.engine) are layered on top as
 * optional refinements — never as different shapes.
 */
import type { components } from './schema'

type S = components['schemas']

/** Drops a `[key: string]: unknown` index signature ("unknown fields pass through"). */
type KnownKeys<T> = { [K in keyof T as string extends K ? never : K]: T[K] }

export type JsonObject = Record<string, unknown>

export interface Page<T> {
  items: T[]
  total: number
}

export type Health = S['Health']
export type Base = S['BaseInfo']
export type BaseDetail = S['BaseDetail']
export type ParentRef = KnownKeys<S['ParentRef']>
export type SessionSummary = S['SessionSummary']
export type SessionList = S['SessionList']
export type RunInfo = S['RunInfo']
export type Band = S['BucketSeries']
export type UpdateMark = S['UpdateMarker']
/** markers: all of them when bucket == 1, else the first of each status in each bucket */
export type PerStep = S['PerStepWindow']
export type PerStepSeriesKey = keyof S['PerStepSeries']
export type Trajectory = S['Trajectory']
export type Ghost = S['GhostOut']
export type WeightRef = S['WeightRecord']
export type Matrix = S['Matrix']
export type MatrixStat = S['MatrixStats']
export type WeightsAt = S['WeightsAt']
export type WeightDelta = S['WeightDelta']
export type WeightStats = S['WeightStats']
export type Spectrum = S['SpectrumOut']
export type FileEntry = S['FileEntry']
export type FileList = S['FileList']
export type Lineage = S['Lineage']
export type LineageNode = S['LineageNode']
export type Job = S['Job']
export type JobStatus = Job['status']
export type AnomalyQueue = S['AnomalyQueue']
export type Finding = S['Finding']
export type ReviewState = S['Review']['state']
export type ScanRequest = S['ScanRequest']
export type SweepSummary = S['SweepSummary']
export type SweepDetail = S['SweepDetail']
export type JobList = S['JobList']
export type BenchmarkSummary = S['BenchmarkSummary']
export type BenchmarkList = S['BenchmarkList']
export type BenchmarkResult = KnownKeys<S['BenchmarkResult']>

/** model_cfg keys the dashboard reads (the API types it as a free dict). */
export type ModelCfg = JsonObject & {
  obs_dim?: number
  act_dim?: number
  z_dim?: number
  u_dim?: number
  n_state?: number
  dt?: number
}

/** meta.json (docs/nano_files.md); the API passes it through as a dict. */
export type SessionMeta = JsonObject & {
  session_id: string
  parent: ParentRef | null
  created_at: string
  mu: number
  env_mode: string
  env_cfg?: JsonObject
  model_signature: string
  base_id?: string
  base_ckpt_hash?: string
  model_cfg: ModelCfg
  plasticity_cfg: JsonObject
  seed?: number
}

/** metrics.json (docs/nano_files.md); the API passes it through as a dict. */
export type SessionMetrics = JsonObject & {
  baseline_mse_mean?: number | null
  adaptive_mse_mean?: number | null
  baseline_mse_last100_mean?: number | null
  adaptive_mse_last100_mean?: number | null
  frozen_mse_last100_mean?: number | null
  oracle_mse_last100_mean?: number | null
  improvement_last100?: number | null
  updates_attempted?: number
  updates_committed?: number
  updates_rolled_back?: number
  rollbacks_by_status?: Record<string, number>
  steps_total?: number
}

export type SessionDetail = Omit<S['SessionDetail'], 'meta' | 'metrics'> & {
  meta: SessionMeta
  metrics: SessionMetrics
}

/** One safety check record as ttt.engine writes it (the API types checks as dicts). */
export interface Check {
  name: string
  passed: boolean
  value: number | null
  threshold: number | null
  reason: string | null
  /** the statistic behind a relative check (robust z); value/threshold are in the checked unit */
  score?: number | null
}

export type UpdateEvent = Omit<KnownKeys<S['UpdateEvent']>, 'checks'> & { checks?: Check[] }

export type EventsPage = Omit<S['EventList'], 'items'> & { items: UpdateEvent[] }

export type Architecture = Omit<S['Architecture'], 'muon' | 'model_cfg'> & {
  model_cfg: ModelCfg
  muon: JsonObject & {
    lr: number
    momentum: number
    nesterov: boolean
    ns_steps: number
    weight_decay: number
    lr_scale?: Record<string, number>
  }
}

/** One live per-step row: [t, baseline, adaptive, frozen, oracle, did_update, update_ok, status, mu]. */
export type LiveRow = [number, number, number, number, number, number, number, string, number]

export type TextModelSummary = S['TextModelSummary']
export type TextModelStatus = TextModelSummary['status']
export type TextModelList = S['TextModelList']
export type TrainLogRow = KnownKeys<S['TrainLogRow']>
export type TrainLmRequest = S['TrainLmRequest']
export type GenerateRequest = S['GenerateRequest']
export type GenerateOut = S['GenerateOut']
export type TrainStreamStatus = S['TrainStreamStatus']

/** Server-side defaults of every SentryConfig field and gate threshold (Text and Chat forms). */
export type SentryDefaults = S['SentryDefaults']
export type FlaggedPrompt = KnownKeys<S['FlaggedPrompt']>
export type FlaggedPromptList = Omit<S['FlaggedPromptList'], 'items'> & { items: FlaggedPrompt[] }
