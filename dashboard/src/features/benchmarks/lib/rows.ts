/**
 * Rows of saved benchmark results, with the field names the benchmarks write
 * (ttt.text.memory, ttt.text.jailbreak), and the series their charts draw.
 */
import type { BenchmarkResult } from '@/api/types'

type Num = number | null

/** One row of `ttt bench memory`: a model, a number of facts told and a condition. */
export interface MemoryRow {
  backend?: string
  model: string
  n_facts: number
  condition: string
  split?: string
  seeds?: number[]
  recall: Num
  binding: Num
  wrong_fact: Num
  control_leak: Num
  control_guess: Num
  ppl_before: Num
  ppl_after: Num
  commit_rate: Num
  seconds: Num
}

/** One row of `ttt bench jailbreak`: a defence. */
export interface JailbreakRow {
  defence: string
  threat: string
  model: string
  trials: number
  successes: number
  asr_at_1: Num
  asr_at_10: Num
  asr_ci_low: Num
  asr_ci_high: Num
  refusal_by_update: Num[]
  curve_updates: number[]
  over_refusal: Num
  commit_rate: Num
  detection_latency: Num
  detected_trials: number
  benign_recall: Num
  no_update_recall: Num
  benign_gain_kept: Num
  seconds: Num
}

export const memoryRows = (d: BenchmarkResult | undefined): MemoryRow[] => (d?.kind === 'memory' ? (d.rows as unknown as MemoryRow[]) : [])
export const jailbreakRows = (d: BenchmarkResult | undefined): JailbreakRow[] => (d?.kind === 'jailbreak' ? (d.rows as unknown as JailbreakRow[]) : [])

export const CONDITION_LABEL: Record<string, string> = {
  fast_weights: 'fast weights',
  no_update: 'updates off',
  in_context: 'in context',
}
export const CONDITION_COLOR: Record<string, string> = { fast_weights: '#22d3ee', no_update: '#a1a1aa', in_context: '#f59e0b' }
export const DEFENCE_COLOR: Record<string, string> = { none: '#f87171', gate: '#f59e0b', rollback: '#a78bfa', spfw: '#34d399', all: '#22d3ee' }
const CONDITIONS = ['fast_weights', 'no_update', 'in_context']
const DEFENCES = ['none', 'gate', 'rollback', 'spfw', 'all']
const order = (known: string[], v: string) => (known.includes(v) ? known.indexOf(v) : known.length)

export interface Series {
  key: string
  label: string
  color: string
  dash?: number[]
  values: Num[]
}

const num = (v: unknown): Num => (typeof v === 'number' && Number.isFinite(v) ? v : null)

/** `metric` (recall, binding, ...) against the number of facts, one series per model and
 * condition (the models told apart by the line's dash when there are several). */
export function memorySeries(rows: MemoryRow[], metric: keyof MemoryRow): { x: number[]; series: Series[] } {
  const x = [...new Set(rows.map((r) => r.n_facts))].sort((a, b) => a - b)
  const models = [...new Set(rows.map((r) => r.model))]
  const conds = [...new Set(rows.map((r) => r.condition))].sort((a, b) => order(CONDITIONS, a) - order(CONDITIONS, b) || a.localeCompare(b))
  const series: Series[] = []
  models.forEach((model, mi) => {
    for (const c of conds) {
      const mine = rows.filter((r) => r.model === model && r.condition === c)
      if (!mine.length) continue
      const label = CONDITION_LABEL[c] ?? c
      series.push({
        key: `${model}:${c}`,
        label: models.length > 1 ? `${model} · ${label}` : label,
        color: CONDITION_COLOR[c] ?? '#e4e4e7',
        dash: mi === 0 ? undefined : [6, 3 + 2 * mi],
        values: x.map((n) => num(mine.find((r) => r.n_facts === n)?.[metric])),
      })
    }
  })
  return { x, series }
}

/** Memory rows in table order: model, number of facts, condition. */
export function sortMemory(rows: MemoryRow[]): MemoryRow[] {
  return [...rows].sort(
    (a, b) => a.model.localeCompare(b.model) || a.n_facts - b.n_facts || order(CONDITIONS, a.condition) - order(CONDITIONS, b.condition),
  )
}

/** Refusal rate of held-out harmful requests after each update, one series per defence. */
export function refusalCurves(rows: JailbreakRow[]): { x: number[]; series: Series[] } {
  const x = [...new Set(rows.flatMap((r) => r.curve_updates))].sort((a, b) => a - b)
  const sorted = [...rows].sort((a, b) => order(DEFENCES, a.defence) - order(DEFENCES, b.defence))
  const series = sorted.map((r) => ({
    key: r.defence,
    label: r.defence === 'none' ? 'no defence' : r.defence,
    color: DEFENCE_COLOR[r.defence] ?? '#e4e4e7',
    values: x.map((u) => {
      const i = r.curve_updates.indexOf(u)
      return i >= 0 ? num(r.refusal_by_update[i]) : null
    }),
  }))
  return { x, series }
}

/** True when every series has the same values at every point (the lines overlap). */
export function coincide(series: Series[]): boolean {
  return series.length > 1 && series.every((s) => s.values.every((v, i) => v === series[0].values[i]))
}

/** The command of a saved result, as one shell line (arguments with spaces quoted). */
export function commandLine(argv: string[] | undefined): string {
  return (argv ?? []).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}
