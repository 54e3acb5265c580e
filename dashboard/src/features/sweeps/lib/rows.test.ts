import { describe, expect, it } from 'vitest'
import { median, rowSessionId, type SweepRow } from './rows'

describe('sweep rows', () => {
  it('names the replay session stably and within 64 characters', () => {
    const r = { session_index: 12, env_mode: 'nonlinear' } as SweepRow
    expect(rowSessionId('demo-sweep', r)).toBe('demo-sweep-non-12')
    expect(rowSessionId('x'.repeat(64), r)).toHaveLength(64)
  })
  it('median ignores non-finite values', () => {
    expect(median([3, 1, NaN, 2])).toBe(2)
    expect(median([1, 2, 3, 4])).toBe(2.5)
    expect(median([])).toBeNull()
  })
})
