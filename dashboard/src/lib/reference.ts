import type { RunInfo, SessionMeta } from '@/api/types'
import type { ThresholdLine } from '@/components/charts/drawing'
import { fmtInt, fmtNum } from './format'

/**
 * What a run's improvement is measured against: the session's own starting weights. For a
 * new session that is the pretrained base (per_step's baseline_mse; frozen_mse is equal);
 * for a fork it is the fork point (frozen_mse in runs with frozen_weights =
 * "session_start", and in a fork's first run). Older later runs of a fork only recorded
 * their own start weights: said so, never passed off as the fork point.
 */
export interface Reference {
  /** per_step column the improvement divides by */
  column: 'baseline_mse' | 'frozen_mse'
  kind: 'base' | 'fork_start' | 'run_start'
  /** "pretrained base" / "fork start (k=3 of demo-linear)" / "this run's start weights" */
  label: string
  /** legend label of the frozen_mse line (null: identical to the baseline line, hidden) */
  frozenLabel: string | null
}

export function runReference(meta: SessionMeta, runs: RunInfo[], run: RunInfo | undefined): Reference {
  const parent = meta.parent
  const ownStart = run?.frozen_weights === 'session_start' || (!!run && runs[0]?.run_id === run.run_id)
  if (!parent) {
    return {
      column: 'baseline_mse',
      kind: 'base',
      label: 'pretrained base (this session’s start)',
      frozenLabel: ownStart ? null : 'this run’s start weights (frozen)',
    }
  }
  const fork = `fork start (update k=${parent.update_index ?? '?'} of ${parent.session_id})`
  if (ownStart) return { column: 'frozen_mse', kind: 'fork_start', label: fork, frozenLabel: `${fork}, frozen` }
  return {
    column: 'frozen_mse',
    kind: 'run_start',
    label: 'this run’s start weights (older run: the fork start was not recorded)',
    frozenLabel: 'this run’s start weights (frozen)',
  }
}

/** Vertical marks for a μ schedule: the jump of a jump schedule. */
export function muEvents(env: Record<string, unknown> | undefined): ThresholdLine[] {
  if (!env || env.schedule !== 'jump' || typeof env.jump_step !== 'number' || typeof env.jump_to !== 'number') return []
  return [{ axis: 'x', value: env.jump_step, label: `μ jumps ${fmtNum(env.mu as number, 3)} → ${fmtNum(env.jump_to, 3)} at t ${fmtInt(env.jump_step)}`, color: '#fbbf24' }]
}
