import { describe, expect, it } from 'vitest'
import { DEFAULT_TEXT_VIEW, parseTextView, serializeTextView } from './textView'

describe('text view state', () => {
  it('round-trips every field', () => {
    const v = { tab: 'compare' as const, run: 'sentry-a', vs: 'sentry-b', status: ['blocked_gate', 'rollback_canary'], rt: 'redteam-1' }
    expect(parseTextView(serializeTextView(v))).toEqual(v)
    expect(serializeTextView(v).toString()).toBe('tab=compare&run=sentry-a&vs=sentry-b&status=blocked_gate%2Crollback_canary&rt=redteam-1')
  })
  it('falls back to defaults on invalid values', () => {
    expect(parseTextView('tab=evil&run=../x&vs=%20&status=nope,commit,commit&rt=.hidden')).toEqual({
      ...DEFAULT_TEXT_VIEW,
      status: ['commit'],
    })
  })
  it('writes nothing for the defaults and keeps unrelated params', () => {
    expect(serializeTextView(DEFAULT_TEXT_VIEW, 'foo=1&tab=redteam').toString()).toBe('foo=1')
  })
})
