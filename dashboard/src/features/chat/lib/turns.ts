/**
 * Turn records of a chat trace → what the dashboard shows about them: the turn's outcome
 * (did its writes land, were some stopped, was the prompt blocked), the reasons, and the
 * fast-weight norm over turns. Pure functions over the trace records.
 */

export interface UpdateLike {
  chunk: number
  status: string
  reasons?: string[]
  committed?: boolean
}

export interface GateLike {
  chunk: number
  allowed: boolean
  reasons?: string[]
  rules?: string[]
}

export interface TurnLike {
  turn: number
  blocked?: boolean
  updates?: UpdateLike[]
  gate?: GateLike[]
  committed_chunks?: number
  fast_weight_norm?: number | null
  flagged?: boolean
}

/** The overall outcome of a turn, worst first: a blocked chunk, a rolled-back write, or all committed. */
export type TurnOutcome = 'blocked' | 'rolled_back' | 'committed' | 'no_write'

export const OUTCOME_STYLE: Record<TurnOutcome, { label: string; glyph: string; color: string; status: string }> = {
  blocked: { label: 'blocked by the gate', glyph: '⬟', color: '#f472b6', status: 'blocked_gate' },
  rolled_back: { label: 'rolled back', glyph: '▲', color: '#f87171', status: 'rollback' },
  committed: { label: 'committed', glyph: '●', color: '#34d399', status: 'commit' },
  no_write: { label: 'no write', glyph: '○', color: '#a1a1aa', status: 'none' },
}

export function isCommitted(u: UpdateLike): boolean {
  return u.committed ?? (u.status === 'commit' || u.status === 'throttled_commit')
}

export function turnOutcome(t: TurnLike): TurnOutcome {
  const ups = t.updates ?? []
  if (t.blocked || ups.some((u) => u.status === 'blocked_gate')) return 'blocked'
  if (ups.some((u) => u.status.startsWith('rollback_'))) return 'rolled_back'
  if (ups.some(isCommitted)) return 'committed'
  return 'no_write'
}

/** Chunks per status of one turn, in first-seen order. */
export function statusCounts(t: TurnLike): [string, number][] {
  const m = new Map<string, number>()
  for (const u of t.updates ?? []) m.set(u.status, (m.get(u.status) ?? 0) + 1)
  return [...m]
}

export interface StopReason {
  chunk: number
  status: string
  reasons: string[]
  rules: string[]
}

/** Every chunk whose write did not land, with the reasons (the gate's, for blocked chunks). */
export function stopReasons(t: TurnLike): StopReason[] {
  const gate = new Map((t.gate ?? []).map((g) => [g.chunk, g]))
  return (t.updates ?? [])
    .filter((u) => !isCommitted(u))
    .map((u) => {
      const g = gate.get(u.chunk)
      const reasons = u.reasons?.length ? u.reasons : (g?.reasons ?? [])
      return { chunk: u.chunk, status: u.status, reasons, rules: g?.rules ?? [] }
    })
}

/** Columns for the fast-weight norm chart: one point per turn (a non-finite norm is a gap). */
export function normSeries(trace: TurnLike[]): { x: number[]; norm: (number | null)[] } {
  return {
    x: trace.map((t) => t.turn),
    norm: trace.map((t) => (typeof t.fast_weight_norm === 'number' && Number.isFinite(t.fast_weight_norm) ? t.fast_weight_norm : null)),
  }
}

/** `trace` with `turn` in its place (by turn number), in turn order. */
export function mergeTurn<T extends { turn: number }>(trace: T[], turn: T): T[] {
  const out = trace.filter((t) => t.turn !== turn.turn)
  out.push(turn)
  return out.sort((a, b) => a.turn - b.turn)
}

/** The engine status a turn's chart marker shows: its worst write (blocked, a rollback) or a commit. */
export function turnMarkerStatus(t: TurnLike): string {
  const outcome = turnOutcome(t)
  if (outcome === 'rolled_back') return (t.updates ?? []).find((u) => u.status.startsWith('rollback_'))?.status ?? 'rollback'
  return { blocked: 'blocked_gate', committed: 'commit', no_write: 'skipped' }[outcome]
}
