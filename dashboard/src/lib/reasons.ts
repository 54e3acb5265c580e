/** Turning update events into short labels and plain-English explanations. */
import { fmtNum, fmtPct, isNum, relChange } from './format'
import { statusStyle } from './status'

export interface CheckLike {
  name: string
  passed: boolean
  value: number | null
  threshold: number | null
  reason: string | null
}

export interface EventLike {
  status: string
  reasons?: string[] | null
  pre_loss?: number | null
  post_loss?: number | null
  checks?: CheckLike[] | null
}

const NUM = '(-?[0-9.]+(?:e[-+]?[0-9]+)?|nan|inf)'

function num(s: string): string {
  const v = Number(s)
  return Number.isFinite(v) ? fmtNum(v, 3) : s
}

/**
 * A rollback reason (the engine's plain-English sentence) → a short label with its numbers,
 * e.g. "post_loss 0.089 exceeded pre_loss 0.057 x1.2 = 0.068 (...)" → "loss 0.089 > 0.068".
 * Falls back to the status' short name.
 */
export function shortReason(status: string, reason?: string | null): string {
  const r = (reason ?? '').trim()
  let m: RegExpMatchArray | null
  if ((m = r.match(new RegExp(`post_loss ${NUM} exceeded pre_loss ${NUM}.*= ${NUM}`, 'i'))))
    return `loss ${num(m[1])} > ${num(m[3])}`
  if ((m = r.match(new RegExp(`grad_norm \\(${NUM}\\) is ${NUM} robust z`, 'i'))))
    return `grad z ${num(m[2])}`
  if ((m = r.match(new RegExp(`grad_norm \\(${NUM}\\) exceeded .*= ${NUM}`, 'i'))))
    return `grad ${num(m[1])} > ${num(m[2])}`
  if ((m = r.match(new RegExp(`max \\|h\\|.*\\(${NUM}\\) exceeded .*= ${NUM}`, 'i'))))
    return `|h| ${num(m[1])} > ${num(m[2])}`
  if ((m = r.match(new RegExp(`canary loss rose by ${NUM}`, 'i')))) return `canary +${num(m[1])}`
  const st = statusStyle(status)
  if (status === 'blocked_gate') return 'blocked by gate'
  return st.rollback ? `${st.short} rollback` : st.short
}

/** All reasons of an event: its `reasons`, else the reasons of its failed checks. */
export function eventReasons(ev: EventLike): string[] {
  const rs = (ev.reasons ?? []).filter((r): r is string => !!r && r.trim().length > 0)
  if (rs.length) return rs
  return (ev.checks ?? []).filter((c) => !c.passed && c.reason).map((c) => c.reason as string)
}

/** One sentence answering "why did this update commit / roll back?". */
export function explainEvent(ev: EventLike): string {
  const checks = ev.checks ?? []
  if (ev.status === 'commit') {
    const rc = relChange(ev.pre_loss, ev.post_loss)
    const nChecks = checks.length
    const passed = nChecks ? ` and passed all ${nChecks} safety check${nChecks === 1 ? '' : 's'}` : ''
    if (rc === null) return `Update committed${passed}.`
    if (rc <= 0)
      return `Update improved held-out loss by ${fmtPct(-rc)} (${fmtNum(ev.pre_loss)} → ${fmtNum(ev.post_loss)})${passed}.`
    return `Update committed: held-out loss rose ${fmtPct(rc)} (${fmtNum(ev.pre_loss)} → ${fmtNum(ev.post_loss)}), within tolerance${passed}.`
  }
  const rs = eventReasons(ev)
  const verb = ev.status === 'blocked_gate' ? 'Blocked' : 'Rolled back'
  if (rs.length) return `${verb} because ${rs.join('; and ')}.`
  return `${verb} (${statusStyle(ev.status).label}); the event carries no reason text.`
}

/** Loss-change colour class: improvement green, regression red, unknown neutral. */
export function lossDeltaTone(pre: number | null | undefined, post: number | null | undefined): 'good' | 'bad' | 'flat' | 'none' {
  if (!isNum(pre) || !isNum(post)) return 'none'
  if (post < pre) return 'good'
  if (post > pre) return 'bad'
  return 'flat'
}
