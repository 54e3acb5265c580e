import type { SweepDetail } from '@/api/types'

/** One row of a sweep's results.json (the columns ttt.nano.sweep writes). */
export interface SweepRow {
  session_index: number
  env_mode: string
  mu: number
  noise_std: number
  seed: number
  baseline_last100: number
  adaptive_last100: number
  oracle_last100: number
  gain: number
  commits: number
  attempts: number
}

export const rowsOf = (d: SweepDetail | undefined): SweepRow[] => (d?.rows ?? []) as unknown as SweepRow[]

/** The id of the session that replays row `r` of sweep `sweepId` (stable: opening it twice
 * finds the first one; at most 64 characters like every id). */
export function rowSessionId(sweepId: string, r: SweepRow): string {
  const tail = `-${r.env_mode.slice(0, 3)}-${r.session_index}`
  return `${sweepId.slice(0, 64 - tail.length)}${tail}`
}

/** median of finite values (null when none) */
export function median(xs: number[]): number | null {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b)
  if (!v.length) return null
  const m = v.length >> 1
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}
