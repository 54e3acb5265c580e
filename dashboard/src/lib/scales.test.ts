import { describe, expect, it } from 'vitest'
import { logRange } from './scales'

/** uPlot's log10 split walk (simplified): must reach scaleMax in a bounded number of steps. */
function walk(lo: number, hi: number): number {
  let incr = 10 ** Math.floor(Math.log10(lo))
  let split = lo
  let next = incr * 10
  let n = 0
  while (split <= hi && n < 10_000) {
    split = Number((split + incr).toPrecision(12))
    if (split >= next * (1 - 1e-12)) {
      incr = next
      next = incr * 10
    }
    n++
  }
  return n
}

describe('logRange', () => {
  it('fits the data with a k·10^e minimum', () => {
    const [lo, hi] = logRange(1.249e-5, 4.8)
    expect(lo).toBe(9e-6)
    expect(hi).toBeCloseTo(6)
    const m = lo / 10 ** Math.floor(Math.log10(lo))
    expect(Number.isInteger(Number(m.toPrecision(6)))).toBe(true)
  })
  it('is bounded to 12 decades and 1e-15..1e15', () => {
    expect(logRange(1e-300, 1)[0]).toBeGreaterThanOrEqual(1e-12)
    expect(logRange(1, 1e30)[1]).toBe(1e15)
  })
  it('handles empty and degenerate input', () => {
    expect(logRange(null, null)).toEqual([1e-6, 1])
    expect(logRange(0, 0)).toEqual([1e-6, 1])
    const [lo, hi] = logRange(2, 2)
    expect(lo).toBeLessThan(hi)
  })
  it('always gives a terminating split walk', () => {
    for (const [a, b] of [[1.249e-5, 4.8], [3.3e-9, 2e-3], [0.7, 0.9], [1e-15, 1e15], [5.5e-7, 5.6e-7]]) {
      const [lo, hi] = logRange(a, b)
      expect(walk(lo, hi)).toBeLessThan(10_000)
    }
  })
})
