/**
 * Per-token influence → highlight strength. Influence is the norm of a token's own
 * contribution to the fast-weight gradient; it is heavy-tailed, so strengths are scaled by a
 * high quantile of the run (not its max) and clipped to [0, 1].
 */

/** The q-quantile (0..1) of the finite values (linear interpolation); null when none. */
export function quantile(values: Iterable<number>, q: number): number | null {
  const xs = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (!xs.length) return null
  const pos = Math.min(1, Math.max(0, q)) * (xs.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
}

/** Scale for strengths: the 98th percentile of positive influences (null: nothing to scale). */
export function influenceScale(values: Iterable<number>): number | null {
  const pos = [...values].filter((v) => Number.isFinite(v) && v > 0)
  const s = quantile(pos, 0.98)
  return s !== null && s > 0 ? s : null
}

export function strength(v: number | null | undefined, scale: number | null): number {
  if (scale === null || v === null || v === undefined || !Number.isFinite(v) || v <= 0) return 0
  return Math.min(1, v / scale)
}

/** Background colour of a token with strength s (amber, alpha grows with s). The alpha stops
 * at 0.40 so the light text on it keeps a WCAG contrast of 4.5:1 or more over the dark page
 * (about 5.5:1 at full strength; at 0.66, where it used to stop, no text colour reaches 4.5). */
export function influenceColor(s: number): string {
  return `rgba(250, 204, 21, ${(0.06 + 0.34 * Math.min(1, Math.max(0, s))).toFixed(3)})`
}

