import { describe, expect, it } from 'vitest'
import { coincide, commandLine, memorySeries, refusalCurves, sortMemory, type JailbreakRow, type MemoryRow } from './rows'

const mem = (model: string, n: number, condition: string, recall: number | null, binding = 0): MemoryRow =>
  ({ model, n_facts: n, condition, recall, binding } as MemoryRow)

describe('memorySeries', () => {
  it('puts each condition on the sorted numbers of facts, null where a row is missing', () => {
    const rows = [mem('m', 4, 'in_context', 0.5), mem('m', 1, 'fast_weights', 1), mem('m', 4, 'fast_weights', 0.25), mem('m', 1, 'in_context', 1)]
    const { x, series } = memorySeries(rows, 'recall')
    expect(x).toEqual([1, 4])
    expect(series.map((s) => [s.key, s.label, s.values])).toEqual([
      ['m:fast_weights', 'fast weights', [1, 0.25]],
      ['m:in_context', 'in context', [1, 0.5]],
    ])
    const holes = memorySeries([mem('m', 1, 'no_update', 0), mem('m', 16, 'fast_weights', null)], 'recall')
    expect(holes.series.find((s) => s.key === 'm:no_update')?.values).toEqual([0, null])
    expect(holes.series.find((s) => s.key === 'm:fast_weights')?.values).toEqual([null, null])
  })
  it('names the model when there are several', () => {
    const { series } = memorySeries([mem('a', 1, 'fast_weights', 0), mem('b', 1, 'fast_weights', 1)], 'recall')
    expect(series.map((s) => s.label)).toEqual(['a · fast weights', 'b · fast weights'])
    expect(series[0].dash).toBeUndefined()
    expect(series[1].dash).toBeDefined()
  })
  it('sorts the table by model, facts, condition', () => {
    const rows = sortMemory([mem('b', 1, 'no_update', 0), mem('a', 4, 'in_context', 0), mem('a', 4, 'fast_weights', 0), mem('a', 1, 'in_context', 0)])
    expect(rows.map((r) => `${r.model}${r.n_facts}${r.condition}`)).toEqual(['a1in_context', 'a4fast_weights', 'a4in_context', 'b1no_update'])
  })
})

describe('refusalCurves', () => {
  it('aligns each defence on the union of update counts, the reference first', () => {
    const rows = [
      { defence: 'all', curve_updates: [0, 2, 4], refusal_by_update: [1, 0.75, 0.5] },
      { defence: 'none', curve_updates: [0, 2, 4], refusal_by_update: [1, 0.5, 0] },
    ] as JailbreakRow[]
    const { x, series } = refusalCurves(rows)
    expect(x).toEqual([0, 2, 4])
    expect(series.map((s) => [s.key, s.label, s.values])).toEqual([
      ['none', 'no defence', [1, 0.5, 0]],
      ['all', 'all', [1, 0.75, 0.5]],
    ])
  })
})

describe('commandLine', () => {
  it('quotes what a shell would split', () => {
    expect(commandLine(['ttt', 'bench', 'memory', '--n-facts', '1,2', '--set', "a=it's x"])).toBe(`ttt bench memory --n-facts 1,2 --set 'a=it'\\''s x'`)
    expect(commandLine(undefined)).toBe('')
  })
})

describe('coincide', () => {
  it('is true only for several identical series', () => {
    const s = (values: (number | null)[]) => ({ key: 'k', label: 'l', color: '#fff', values })
    expect(coincide([s([0, 0]), s([0, 0])])).toBe(true)
    expect(coincide([s([0, 0]), s([0, 0.5])])).toBe(false)
    expect(coincide([s([0, null]), s([0, 0])])).toBe(false)
    expect(coincide([s([1])])).toBe(false)
  })
})
