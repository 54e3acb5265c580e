/**
 * Debiased exponential moving average (Adam-style bias correction).
 *
 * m_t = (1 - alpha) * m_{t-1} + alpha * x_t, m_{-1} = 0, reported as m_t / (1 - (1 - alpha)^n)
 * where n counts the finite samples seen so far. Non-finite inputs (NaN, null) do not update
 * the average and yield NaN at their position, so gaps stay gaps.
 */
export function debiasedEma(values: ArrayLike<number | null>, alpha: number): Float64Array {
  if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${alpha}`)
  const out = new Float64Array(values.length)
  let m = 0
  let decayPow = 1 // (1 - alpha)^n
  for (let i = 0; i < values.length; i++) {
    const x = values[i]
    if (x === null || !Number.isFinite(x)) {
      out[i] = NaN
      continue
    }
    m = (1 - alpha) * m + alpha * x
    decayPow *= 1 - alpha
    out[i] = m / (1 - decayPow)
  }
  return out
}

/** Incremental form of {@link debiasedEma} for streamed data (live runs). */
export class StreamingEma {
  private m = 0
  private decayPow = 1
  constructor(readonly alpha: number) {
    if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`alpha must be in (0, 1], got ${alpha}`)
  }
  push(x: number | null): number {
    if (x === null || !Number.isFinite(x)) return NaN
    this.m = (1 - this.alpha) * this.m + this.alpha * x
    this.decayPow *= 1 - this.alpha
    return this.m / (1 - this.decayPow)
  }
}
