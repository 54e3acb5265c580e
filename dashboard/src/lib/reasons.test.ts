import { describe, expect, it } from 'vitest'
import { eventReasons, explainEvent, lossDeltaTone, shortReason } from './reasons'

describe('shortReason', () => {
  it('loss regression with numbers', () => {
    const r =
      'post_loss 0.089 exceeded pre_loss 0.057 x1.2 = 0.068 (holdout_loss, data the step did not train on)'
    expect(shortReason('rollback_loss_regression', r)).toBe('loss 0.089 > 0.068')
  })
  it('robust z gradient', () => {
    const r = "grad_norm (25) is 9.5 robust z above this session's committed median 2 (limit z = 8, i.e. grad_norm <= 20)"
    expect(shortReason('rollback_grad_norm', r)).toBe('grad z 9.5')
  })
  it('absolute gradient limit', () => {
    expect(shortReason('rollback_grad_norm', 'grad_norm (25) exceeded the absolute limit grad_norm_max = 20')).toBe(
      'grad 25 > 20',
    )
  })
  it('state norm and canary', () => {
    expect(shortReason('rollback_state_norm', 'max |h| after the step (2.000e6) exceeded state_norm_max = 1.000e6')).toBe(
      '|h| 2e6 > 1e6',
    )
    expect(shortReason('rollback_canary', 'canary loss rose by 0.5 (1 -> 1.5), above the limit 0.1')).toBe('canary +0.5')
  })
  it('falls back to the status', () => {
    expect(shortReason('rollback_grad_norm', null)).toBe('grad rollback')
    expect(shortReason('blocked_gate', '')).toBe('blocked by gate')
    expect(shortReason('commit')).toBe('commit')
  })
})

describe('explainEvent', () => {
  it('explains a commit with the improvement', () => {
    const s = explainEvent({
      status: 'commit',
      pre_loss: 0.1,
      post_loss: 0.058,
      checks: [
        { name: 'a', passed: true, value: 1, threshold: 2, reason: null },
        { name: 'b', passed: true, value: 1, threshold: 2, reason: null },
      ],
    })
    expect(s).toBe('Update improved held-out loss by 42.0% (0.1 → 0.058) and passed all 2 safety checks.')
  })
  it('explains a rollback with the engine reasons', () => {
    const s = explainEvent({ status: 'rollback_grad_norm', reasons: ['grad_norm (25) exceeded x = 20'] })
    expect(s).toBe('Rolled back because grad_norm (25) exceeded x = 20.')
  })
  it('uses failed checks when reasons are missing', () => {
    const ev = {
      status: 'rollback_state_norm',
      reasons: [],
      checks: [{ name: 'state_norm_max', passed: false, value: 3, threshold: 2, reason: 'max |h| too big' }],
    }
    expect(eventReasons(ev)).toEqual(['max |h| too big'])
    expect(explainEvent(ev)).toBe('Rolled back because max |h| too big.')
  })
  it('loss tone', () => {
    expect(lossDeltaTone(1, 0.5)).toBe('good')
    expect(lossDeltaTone(1, 2)).toBe('bad')
    expect(lossDeltaTone(null, 2)).toBe('none')
  })
})
