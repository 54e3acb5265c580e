import { describe, expect, it } from 'vitest'
import { metricRows, reasonKind, rejectionsByCheck, standing } from './sleep'

describe('sleep manifests', () => {
  it('groups rejections by the check that made them', () => {
    expect(reasonKind('gate_at_time: the gate blocked this prompt (x: y)')).toBe('gate_at_time')
    expect(reasonKind('no prefix')).toBe('other')
    const mems = [
      { decision: 'rejected', reasons: ['gate_at_time: a', 'gate_recheck: b', 'gate_recheck: c'] },
      { decision: 'rejected', reasons: ['flagged_by_user: odd'] },
      { decision: 'rejected', reasons: ['gate_recheck: d'] },
      { decision: 'approved', reasons: [] },
    ]
    expect(rejectionsByCheck(mems)).toEqual([['gate_recheck', 2], ['flagged_by_user', 1], ['gate_at_time', 1]])
  })
  it('puts the method beside the replay baseline and says which is better', () => {
    const m = { before: { core_loss: 2, session_loss: 3 }, after: { core_loss: 2.02, session_loss: 2.7 }, retention_change_pct: 1, acquisition_drop_pct: 10 }
    const r = { before: m.before, after: { core_loss: 2.1, session_loss: 2.4 }, retention_change_pct: 5, acquisition_drop_pct: 20 }
    const rows = metricRows(m, r)
    expect(rows.map((x) => [x.key, x.before, x.after, x.change, x.replayAfter, x.replayChange, x.better])).toEqual([
      ['retention', 2, 2.02, 1, 2.1, 5, true],
      ['acquisition', 3, 2.7, 10, 2.4, 20, false],
    ])
    expect(metricRows(m, null).every((x) => x.better === null && x.replayChange === null)).toBe(true)
    expect(metricRows({ ...m, retention_change_pct: Number.NaN }, r)[0].change).toBeNull()
  })
  it('names a candidate’s standing', () => {
    expect([standing({ promoted: true }), standing({ rejected: true }), standing({})]).toEqual(['promoted', 'rejected', 'pending'])
  })
})
