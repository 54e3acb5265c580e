/**
 * Min/max bucket downsampling for data already on the client (live rows, trajectories).
 * The server does the same for stored runs; spikes never vanish because every bucket keeps
 * its min and max. With n <= points the data comes back exact (bucket = 1).
 */
export interface Buckets {
  /** first x of each bucket */
  x: Float64Array
  min: Float64Array
  max: Float64Array
  mean: Float64Array
  /** samples per bucket (the last one may hold fewer) */
  bucket: number
}

export function minMaxDownsample(
  x: ArrayLike<number>,
  y: ArrayLike<number | null>,
  points: number,
): Buckets {
  const n = Math.min(x.length, y.length)
  const p = Math.max(1, Math.floor(points))
  const bucket = Math.max(1, Math.ceil(n / p))
  const nb = Math.ceil(n / bucket)
  const out: Buckets = {
    x: new Float64Array(nb),
    min: new Float64Array(nb),
    max: new Float64Array(nb),
    mean: new Float64Array(nb),
    bucket,
  }
  for (let b = 0; b < nb; b++) {
    const lo = b * bucket
    const hi = Math.min(n, lo + bucket)
    let mn = Infinity
    let mx = -Infinity
    let sum = 0
    let cnt = 0
    for (let i = lo; i < hi; i++) {
      const v = y[i]
      if (v === null || !Number.isFinite(v)) continue
      if (v < mn) mn = v
      if (v > mx) mx = v
      sum += v
      cnt++
    }
    out.x[b] = x[lo]
    out.min[b] = cnt ? mn : NaN
    out.max[b] = cnt ? mx : NaN
    out.mean[b] = cnt ? sum / cnt : NaN
  }
  return out
}

/** Index of the first element >= value in a sorted array (binary search). */
export function lowerBound(sorted: ArrayLike<number>, value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index of the element closest to value in a sorted array (-1 when empty). */
export function nearestIndex(sorted: ArrayLike<number>, value: number): number {
  const n = sorted.length
  if (n === 0) return -1
  const i = lowerBound(sorted, value)
  if (i <= 0) return 0
  if (i >= n) return n - 1
  return value - sorted[i - 1] <= sorted[i] - value ? i - 1 : i
}
