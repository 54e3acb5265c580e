import { describe, expect, it } from 'vitest'
import { fmtAsr, showPayload } from './asr'

describe('fmtAsr', () => {
  it('shows the rate with its interval', () => {
    expect(fmtAsr(0.125, [0.035, 0.29], 32)).toBe('12.5% (95% CI 3.5%–29.0%)')
  })
  it('says so when nothing was queried', () => {
    expect(fmtAsr(0, [0, 1], 0)).toBe('no queries yet')
    expect(fmtAsr(null, null, 3)).toBe('no queries yet')
  })
})

describe('showPayload', () => {
  it('makes invisible and bidi characters visible', () => {
    expect(showPayload('a\u200bb\u202ec')).toBe('a⟨U+200B⟩b⟨U+202E⟩c')
  })
  it('truncates long payloads', () => {
    expect(showPayload('x'.repeat(10), 5)).toBe('xxxx…')
    expect(showPayload('short')).toBe('short')
  })
})
