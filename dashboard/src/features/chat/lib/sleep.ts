/**
 * Sleep manifests → what the Sleep panel shows: decision counts by reason kind, the metrics
 * table (this method beside the replay baseline), and a candidate's standing.
 */

export interface MemoryLike {
  decision: string
  reasons?: string[]
}

/** The check a reason comes from ("gate_at_time: …" → "gate_at_time"). */
export function reasonKind(reason: string): string {
  const m = /^([a-z_]+):/.exec(reason)
  return m ? m[1] : 'other'
}

/** Rejections per check, most frequent first (a memory counts once per check). */
export function rejectionsByCheck(memories: MemoryLike[]): [string, number][] {
  const m = new Map<string, number>()
  for (const mem of memories) {
    if (mem.decision !== 'rejected') continue
    for (const k of new Set((mem.reasons ?? []).map(reasonKind))) m.set(k, (m.get(k) ?? 0) + 1)
  }
  return [...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
}

export interface LossesLike {
  core_loss?: number | null
  session_loss?: number | null
}
export interface MetricsLike {
  before: LossesLike
  after: LossesLike
  retention_change_pct?: number | null
  acquisition_drop_pct?: number | null
}

export interface MetricRow {
  key: 'retention' | 'acquisition'
  label: string
  what: string
  before: number | null
  after: number | null
  change: number | null
  replayAfter: number | null
  replayChange: number | null
  /** true when this method is better than replay on the row (less forgetting / more learned) */
  better: boolean | null
}

const num = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : null)

/** Retention (core loss change, + = forgetting) and acquisition (session loss drop, + = learned). */
export function metricRows(m: MetricsLike, replay?: MetricsLike | null): MetricRow[] {
  const row = (key: MetricRow['key'], loss: keyof LossesLike, pct: 'retention_change_pct' | 'acquisition_drop_pct', lowerBetter: boolean): MetricRow => {
    const change = num(m[pct])
    const rc = num(replay?.[pct])
    return {
      key,
      label: key === 'retention' ? 'retention: core loss' : 'acquisition: session loss',
      what: key === 'retention' ? 'change %, + means forgetting' : 'drop %, + means learned',
      before: num(m.before[loss]),
      after: num(m.after[loss]),
      change,
      replayAfter: num(replay?.after[loss]),
      replayChange: rc,
      better: change === null || rc === null ? null : lowerBetter ? change < rc : change > rc,
    }
  }
  return [row('retention', 'core_loss', 'retention_change_pct', true), row('acquisition', 'session_loss', 'acquisition_drop_pct', false)]
}

/** A candidate's standing: promoted (in use by default when newest), rejected, or waiting. */
export function standing(s: { promoted?: boolean; rejected?: boolean }): 'promoted' | 'rejected' | 'pending' {
  return s.promoted ? 'promoted' : s.rejected ? 'rejected' : 'pending'
}
