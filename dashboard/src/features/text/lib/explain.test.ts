import { describe, expect, it } from 'vitest'
import { eventReasons, explainSentryEvent } from './explain'
import { SENTRY_STATUSES, isStopped, sentryStatusStyle } from './sentryStatus'

describe('explainSentryEvent', () => {
  it('names the gate reason of a blocked chunk', () => {
    const ev = { status: 'blocked_gate', reasons: ['instruction override: "ignore all previous instructions"'] }
    expect(explainSentryEvent(ev)).toBe('Blocked by the gate before any write: instruction override: "ignore all previous instructions".')
  })
  it("falls back to the gate's reasons when the event has none", () => {
    const ev = { status: 'blocked_gate', reasons: [], gate: { allowed: false, reasons: ['low entropy'] } }
    expect(eventReasons(ev)).toEqual(['low entropy'])
    expect(explainSentryEvent(ev)).toMatch(/low entropy\.$/)
  })
  it('does not borrow reasons from a gate that allowed the chunk', () => {
    expect(eventReasons({ status: 'commit', gate: { allowed: true, reasons: ['x'] } })).toEqual([])
  })
  it('explains commits with the canary change and rollbacks with their reasons', () => {
    expect(explainSentryEvent({ status: 'commit', canary: { delta: 0.0123 } })).toBe(
      'Committed: the write passed every active defence. Canary loss changed by +0.0123.',
    )
    expect(explainSentryEvent({ status: 'rollback_canary', reasons: ['canary loss rose by 0.2 > 0.05.'] })).toBe(
      'Rolled back: the write damaged the canary: canary loss rose by 0.2 > 0.05.',
    )
    expect(explainSentryEvent({ status: 'weird' })).toBe('weird.')
    expect(explainSentryEvent({ status: 'commit' }, 'off')).toBe('Committed: safety is off, so no defence checked this write.')
  })
})

describe('sentryStatusStyle', () => {
  it('gives the Sentry-only statuses their own glyphs', () => {
    expect(sentryStatusStyle('throttled_commit').glyph).toBe('◇')
    expect(sentryStatusStyle('blocked_gate').glyph).toBe('⬟')
    expect(new Set(SENTRY_STATUSES.map((s) => sentryStatusStyle(s).glyph)).size).toBe(SENTRY_STATUSES.length)
  })
  it('tells stopped writes from landed ones', () => {
    expect(isStopped('blocked_gate')).toBe(true)
    expect(isStopped('rollback_canary')).toBe(true)
    expect(isStopped('commit')).toBe(false)
    expect(isStopped('throttled_commit')).toBe(false)
  })
})
