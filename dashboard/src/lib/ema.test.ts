import { describe, expect, it } from 'vitest'
import { StreamingEma, debiasedEma } from './ema'

describe('debiasedEma', () => {
  it('is unbiased from the first sample', () => {
    const out = debiasedEma([5, 5, 5, 5], 0.05)
    for (const v of out) expect(v).toBeCloseTo(5, 12)
  })
  it('matches the closed form', () => {
    const a = 0.5
    const out = debiasedEma([1, 3], a)
    // m1 = 0.5, m2 = 0.25 + 1.5 = 1.75; bias 1 - 0.25 = 0.75
    expect(out[0]).toBeCloseTo(1)
    expect(out[1]).toBeCloseTo(1.75 / 0.75)
  })
  it('skips gaps without resetting', () => {
    const out = debiasedEma([2, null, NaN, 2], 0.1)
    expect(out[0]).toBeCloseTo(2)
    expect(Number.isNaN(out[1])).toBe(true)
    expect(Number.isNaN(out[2])).toBe(true)
    expect(out[3]).toBeCloseTo(2)
  })
  it('alpha = 1 is the identity', () => {
    expect(Array.from(debiasedEma([1, 7, 3], 1))).toEqual([1, 7, 3])
  })
  it('rejects invalid alpha', () => {
    expect(() => debiasedEma([1], 0)).toThrow(RangeError)
    expect(() => debiasedEma([1], 1.5)).toThrow(RangeError)
  })
  it('streaming equals batched', () => {
    const xs = Array.from({ length: 200 }, (_, i) => Math.sin(i / 7) + (i % 5))
    const batch = debiasedEma(xs, 0.05)
    const s = new StreamingEma(0.05)
    xs.forEach((x, i) => expect(s.push(x)).toBeCloseTo(batch[i], 12))
  })
})
