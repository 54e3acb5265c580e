import { describe, expect, it } from 'vitest'
import { mergeTurn, normSeries, statusCounts, stopReasons, turnMarkerStatus, turnOutcome, type TurnLike } from './turns'

const ok: TurnLike = { turn: 0, updates: [{ chunk: 0, status: 'commit', committed: true, reasons: [] }], fast_weight_norm: 0.5 }
const blocked: TurnLike = {
  turn: 1,
  blocked: true,
  gate: [
    { chunk: 0, allowed: true, reasons: [], rules: [] },
    { chunk: 1, allowed: false, reasons: ['instruction override: "ignore all previous"'], rules: ['instruction_override'] },
  ],
  updates: [
    { chunk: 0, status: 'commit', committed: true },
    { chunk: 1, status: 'blocked_gate', committed: false, reasons: [] },
  ],
  fast_weight_norm: 0.7,
}
const rolled: TurnLike = { turn: 2, updates: [{ chunk: 0, status: 'rollback_canary', committed: false, reasons: ['canary loss rose 0.2 > 0.05'] }], fast_weight_norm: Number.NaN }

describe('turn outcomes', () => {
  it('ranks blocked over rolled back over committed', () => {
    expect([ok, blocked, rolled, { turn: 3 }].map(turnOutcome)).toEqual(['committed', 'blocked', 'rolled_back', 'no_write'])
    expect(turnOutcome({ turn: 4, blocked: true, updates: [] })).toBe('blocked')
    expect(turnOutcome({ turn: 5, updates: [{ chunk: 0, status: 'throttled_commit' }] })).toBe('committed')
  })
  it('counts statuses and explains what was stopped, with the gate reasons for blocked chunks', () => {
    expect(statusCounts(blocked)).toEqual([['commit', 1], ['blocked_gate', 1]])
    expect(stopReasons(blocked)).toEqual([
      { chunk: 1, status: 'blocked_gate', reasons: ['instruction override: "ignore all previous"'], rules: ['instruction_override'] },
    ])
    expect(stopReasons(rolled)[0].reasons).toEqual(['canary loss rose 0.2 > 0.05'])
    expect(stopReasons(ok)).toEqual([])
  })
  it('makes norm columns with non-finite values as gaps', () => {
    expect(normSeries([ok, blocked, rolled])).toEqual({ x: [0, 1, 2], norm: [0.5, 0.7, null] })
  })
})

describe('merging a streamed turn into the trace', () => {
  it('appends a new turn and replaces a known one, keeping turn order', () => {
    const t = (turn: number, completion = '') => ({ turn, completion })
    expect(mergeTurn([t(0), t(1)], t(2))).toEqual([t(0), t(1), t(2)])
    expect(mergeTurn([t(0), t(1)], t(1, 'new'))).toEqual([t(0), t(1, 'new')])
    expect(mergeTurn([t(2)], t(0))).toEqual([t(0), t(2)])
    expect(mergeTurn([], t(0))).toEqual([t(0)])
  })
})

describe('turn markers', () => {
  it('show the worst write of the turn', () => {
    expect([ok, blocked, rolled, { turn: 3 }].map(turnMarkerStatus)).toEqual(['commit', 'blocked_gate', 'rollback_canary', 'skipped'])
  })
})
