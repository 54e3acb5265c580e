import { describe, expect, it } from 'vitest'
import { influenceColor, influenceScale, quantile, strength } from './influence'

describe('influence scaling', () => {
  it('computes interpolated quantiles and ignores non-finite values', () => {
    expect(quantile([3, 1, 2, NaN], 0.5)).toBe(2)
    expect(quantile([0, 10], 0.25)).toBe(2.5)
    expect(quantile([], 0.5)).toBeNull()
  })
  it('scales by a high quantile so one spike does not wash out the rest', () => {
    const vals = [...Array.from({ length: 99 }, () => 1), 1000]
    const scale = influenceScale(vals)
    expect(scale).not.toBeNull()
    expect(scale as number).toBeLessThan(100)
    expect(strength(1, scale)).toBeGreaterThan(0.01)
    expect(strength(1000, scale)).toBe(1)
  })
  it('gives zero strength to missing, zero or negative influence', () => {
    expect(strength(null, 2)).toBe(0)
    expect(strength(0, 2)).toBe(0)
    expect(strength(-1, 2)).toBe(0)
    expect(strength(1, null)).toBe(0)
    expect(influenceScale([0, 0])).toBeNull()
  })
  it('makes colour alpha grow with strength', () => {
    expect(influenceColor(0)).toBe('rgba(250, 204, 21, 0.060)')
    expect(influenceColor(1)).toBe('rgba(250, 204, 21, 0.400)')
  })
})

describe('influence highlight contrast', () => {
  it('stops at an alpha where light text keeps 4.5:1', () => {
    expect(influenceColor(1)).toBe('rgba(250, 204, 21, 0.400)')
    expect(influenceColor(5)).toBe(influenceColor(1))
  })
})
