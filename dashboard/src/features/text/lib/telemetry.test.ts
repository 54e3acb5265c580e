import { describe, expect, it } from 'vitest'
import { telemetry } from './telemetry'

describe('telemetry', () => {
  it('builds aligned columns and marks every chunk that did not simply commit', () => {
    const t = telemetry([
      { chunk: 0, status: 'commit', loss: 3, grad_norm: 1, compression_ratio: 0.5, canary_cos: 0.1, canary: { delta: 0.01 } },
      { chunk: 1, status: 'blocked_gate', loss: 5, grad_norm: null, compression_ratio: 0.4, canary_cos: null, canary: { delta: null } },
      { chunk: 2, status: 'rollback_canary', loss: 4, grad_norm: 9, compression_ratio: 0.6, canary_cos: -0.2, canary: { delta: 0.3 } },
      { chunk: 3, status: 'throttled_commit', loss: NaN, grad_norm: 2, compression_ratio: 0.6, canary_cos: 0, canary: null },
    ])
    expect(t.x).toEqual([0, 1, 2, 3])
    expect(t.loss).toEqual([3, 5, 4, null])
    expect(t.canaryDelta).toEqual([0.01, null, 0.3, null])
    expect(t.markers).toEqual([
      { t: 1, status: 'blocked_gate' },
      { t: 2, status: 'rollback_canary' },
      { t: 3, status: 'throttled_commit' },
    ])
    expect(t.blocked).toEqual([1])
    expect(t.rolledBack).toEqual([2])
  })
})
