/** One plain-English sentence per Sentry chunk event (the event log and the text view). */
import { fmtNum } from '@/lib/format'

export interface ExplainableEvent {
  status: string
  reasons?: string[] | null
  gate?: { allowed: boolean; reasons?: string[] | null; rules?: string[] | null } | null
  canary?: { delta?: number | null } | null
}

const clean = (rs: (string | null | undefined)[] | null | undefined) =>
  (rs ?? []).map((r) => (r ?? '').trim()).filter((r) => r.length > 0)

const sentence = (rs: string[]) => rs.map((r) => r.replace(/[.;\s]+$/, '')).join('; ')

/** The reasons that explain the event: its own, else the gate's when the gate objected. */
export function eventReasons(ev: ExplainableEvent): string[] {
  const own = clean(ev.reasons)
  if (own.length) return own
  if (ev.gate && !ev.gate.allowed) return clean(ev.gate.reasons)
  return []
}

/** `safety`: the run's safety mode, when known (a commit under "off" was checked by nothing). */
export function explainSentryEvent(ev: ExplainableEvent, safety?: string | null): string {
  const rs = eventReasons(ev)
  const why = rs.length ? `: ${sentence(rs)}.` : '.'
  const d = ev.canary?.delta
  const canary = typeof d === 'number' && Number.isFinite(d) ? ` Canary loss changed by ${d >= 0 ? '+' : ''}${fmtNum(d, 3)}.` : ''
  switch (ev.status) {
    case 'commit':
      return safety === 'off'
        ? `Committed: safety is off, so no defence checked this write.${canary}`
        : `Committed: the write passed every active defence.${canary}`
    case 'throttled_commit':
      return `Committed at a reduced learning rate because the gate objected${why}${canary}`
    case 'blocked_gate':
      return `Blocked by the gate before any write${why}`
    case 'rollback_canary':
      return `Rolled back: the write damaged the canary${why}`
    case 'rollback_grad_norm':
      return `Rolled back before the step: the gradient (write pressure) was abnormal${why}`
    case 'rollback_loss_regression':
      return `Rolled back: the loss regressed after the write${why}`
    case 'rollback_state_norm':
      return `Rolled back: the hidden state grew too large${why}`
    case 'skipped':
      return `Skipped: no write was attempted${why}`
    default:
      return `${ev.status}${why}`
  }
}
