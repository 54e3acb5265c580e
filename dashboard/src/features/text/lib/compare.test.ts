import { describe, expect, it } from 'vitest'
import { alignByChunk, diff } from './compare'

describe('alignByChunk', () => {
  it('puts both runs on the chunk axis, padding the shorter one', () => {
    const out = alignByChunk({ chunk: [0, 1, 2], values: [1, 2, 3] }, { chunk: [0, 1], values: [5, null] })
    expect(out).toEqual({ x: [0, 1, 2], a: [1, 2, 3], b: [5, null, null] })
  })
  it('handles empty runs', () => {
    expect(alignByChunk({ chunk: [], values: [] }, { chunk: [], values: [] })).toEqual({ x: [], a: [], b: [] })
  })
})

describe('diff', () => {
  it('is B − A for finite numbers only', () => {
    expect(diff(1, 3)).toBe(2)
    expect(diff(null, 3)).toBeNull()
    expect(diff(1, NaN)).toBeNull()
    expect(diff('1', 2)).toBeNull()
  })
})
