export interface Histogram {
  edges: number[]
  counts: number[]
}

/** Fixed-width histogram over [lo, hi]; values outside are clamped into the end bins. */
export function histogram(values: ArrayLike<number>, bins: number, lo: number, hi: number): Histogram {
  const n = Math.max(1, Math.floor(bins))
  const w = (hi - lo) / n
  const counts = new Array<number>(n).fill(0)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (!Number.isFinite(v)) continue
    const b = w > 0 ? Math.floor((v - lo) / w) : 0
    counts[Math.min(n - 1, Math.max(0, b))]++
  }
  const edges = Array.from({ length: n + 1 }, (_, i) => lo + i * w)
  return { edges, counts }
}
