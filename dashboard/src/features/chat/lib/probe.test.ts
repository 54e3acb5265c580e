import { describe, expect, it } from 'vitest'
import { probeVerdict } from './probe'

describe('probeVerdict', () => {
  it('turns the loss difference into a per-token likelihood ratio', () => {
    expect(probeVerdict({ loss_delta: -Math.log(2) })).toBe('the fast weights make the expected answer 2× likelier per token')
    expect(probeVerdict({ loss_delta: Math.log(4) })).toBe('the fast weights make the expected answer 4× less likely per token')
    expect(probeVerdict({ loss_delta: 0 })).toMatch(/do not change/)
  })
  it('says nothing without an expected answer', () => {
    expect(probeVerdict({ loss_delta: null })).toBeNull()
    expect(probeVerdict({})).toBeNull()
    expect(probeVerdict({ loss_delta: Number.NaN })).toBeNull()
  })
})
