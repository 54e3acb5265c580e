import { describe, expect, it } from 'vitest'
import { lowerBound, minMaxDownsample, nearestIndex } from './downsample'

describe('minMaxDownsample', () => {
  it('is exact when n <= points', () => {
    const b = minMaxDownsample([0, 1, 2], [3, 1, 2], 10)
    expect(b.bucket).toBe(1)
    expect(Array.from(b.min)).toEqual([3, 1, 2])
    expect(Array.from(b.max)).toEqual([3, 1, 2])
    expect(Array.from(b.x)).toEqual([0, 1, 2])
  })
  it('keeps spikes in min/max', () => {
    const n = 1000
    const x = Array.from({ length: n }, (_, i) => i)
    const y = x.map(() => 1)
    y[503] = 100
    y[777] = -5
    const b = minMaxDownsample(x, y, 10)
    expect(b.bucket).toBe(100)
    expect(b.x.length).toBe(10)
    expect(b.max[5]).toBe(100)
    expect(b.min[7]).toBe(-5)
    expect(b.mean[0]).toBe(1)
    expect(b.mean[5]).toBeCloseTo((99 + 100) / 100)
  })
  it('handles a partial last bucket and gaps', () => {
    const b = minMaxDownsample([0, 1, 2, 3, 4], [1, null, 3, NaN, 5], 2)
    expect(b.bucket).toBe(3)
    expect(Array.from(b.x)).toEqual([0, 3])
    expect(Array.from(b.mean)).toEqual([2, 5])
  })
  it('returns NaN for all-missing buckets', () => {
    const b = minMaxDownsample([0, 1], [null, null], 1)
    expect(Number.isNaN(b.min[0])).toBe(true)
  })
})

describe('search', () => {
  it('lowerBound', () => {
    expect(lowerBound([1, 3, 5], 0)).toBe(0)
    expect(lowerBound([1, 3, 5], 3)).toBe(1)
    expect(lowerBound([1, 3, 5], 4)).toBe(2)
    expect(lowerBound([1, 3, 5], 9)).toBe(3)
  })
  it('nearestIndex', () => {
    expect(nearestIndex([], 1)).toBe(-1)
    expect(nearestIndex([0, 10, 20], 4)).toBe(0)
    expect(nearestIndex([0, 10, 20], 6)).toBe(1)
    expect(nearestIndex([0, 10, 20], 99)).toBe(2)
  })
})
