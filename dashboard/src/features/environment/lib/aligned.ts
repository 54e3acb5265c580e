import type { Trajectory } from '@/api/types'

/**
 * A prediction made at step t is of the state at t + 1 (the runner predicts, then the env
 * advances). These helpers pair every prediction with the state it is for, so overlays and
 * errors never compare a prediction with the state it was made from.
 */

/** Mean over the 4 components of the squared error: per_step.csv's *_mse at the same t. */
export function mse4(p: number[] | null | undefined, y: number[] | null | undefined): number | null {
  if (!p || !y || p.length !== 4 || y.length !== 4) return null
  let s = 0
  for (let c = 0; c < 4; c++) s += (p[c] - y[c]) ** 2
  return s / 4
}

export interface PredictionErrors {
  /** t of each row: the step the prediction was made at (per_step.csv's t) */
  t: number[]
  baseline: (number | null)[]
  adaptive: (number | null)[]
}

/** Errors by the step they were made at; null where the next state is unknown (run end). */
export function predictionErrors(tr: Trajectory): PredictionErrors {
  const next = tr.next_obs ?? []
  return {
    t: tr.t,
    baseline: tr.t.map((_, i) => mse4(tr.pred_baseline[i], next[i])),
    adaptive: tr.t.map((_, i) => mse4(tr.pred_adaptive[i], next[i])),
  }
}

export interface StateTimeline {
  /** time of each state: the row times t_i and the predicted times t_i + 1 (merged, sorted) */
  x: number[]
  truth: (number[] | null)[]
  baseline: (number[] | null)[]
  adaptive: (number[] | null)[]
}

/**
 * States on a time axis with the predictions *of* each time: truth at t_i (obs) and t_i + 1
 * (next_obs), the predictions made at t_i placed at t_i + 1. With every step kept (stride 1)
 * the two grids coincide; with a stride the predictions sit one step after each kept row.
 */
export function stateTimeline(tr: Trajectory): StateTimeline {
  const next = tr.next_obs ?? []
  const at = new Map<number, { truth: number[] | null; b: number[] | null; a: number[] | null }>()
  const slot = (t: number) => {
    let s = at.get(t)
    if (!s) at.set(t, (s = { truth: null, b: null, a: null }))
    return s
  }
  tr.t.forEach((t, i) => {
    slot(t).truth = tr.obs[i] ?? null
    const y = next[i]
    if (y) {
      const s = slot(t + 1)
      s.truth = y
      s.b = tr.pred_baseline[i] ?? null
      s.a = tr.pred_adaptive[i] ?? null
    }
  })
  const x = [...at.keys()].sort((p, q) => p - q)
  return {
    x,
    truth: x.map((t) => at.get(t)!.truth),
    baseline: x.map((t) => at.get(t)!.b),
    adaptive: x.map((t) => at.get(t)!.a),
  }
}

/** Up to n evenly spaced row indices (always the first and last with a value). */
export function sampleIndices(len: number, n: number): number[] {
  if (len <= n) return Array.from({ length: len }, (_, i) => i)
  const out = new Set<number>()
  for (let k = 0; k < n; k++) out.add(Math.round((k * (len - 1)) / (n - 1)))
  return [...out]
}
