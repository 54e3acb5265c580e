import { describe, expect, it } from 'vitest'
import { mergeByKey } from './merge'

const k = (x: { n: number }) => x.n

describe('mergeByKey', () => {
  it('appends newer records in order', () => {
    expect(mergeByKey([{ n: 0 }, { n: 1 }], [{ n: 2 }, { n: 3 }], k).map(k)).toEqual([0, 1, 2, 3])
  })
  it('ignores a replay of records it already has (same object returned)', () => {
    const old = [{ n: 0 }, { n: 1 }]
    expect(mergeByKey(old, [{ n: 0 }, { n: 1 }], k)).toBe(old)
    expect(mergeByKey(old, [], k)).toBe(old)
  })
  it('merges a replay that carries new records, sorted, without duplicates', () => {
    const out = mergeByKey([{ n: 0 }, { n: 2 }], [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }], k)
    expect(out.map(k)).toEqual([0, 1, 2, 3])
  })
  it('replaces a record whose content changed', () => {
    const out = mergeByKey([{ n: 0, v: 'a' }], [{ n: 0, v: 'b' }], k)
    expect(out).toEqual([{ n: 0, v: 'b' }])
  })
})
