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

/** Background colour of a token with strength s (amber, alpha grows with s). */
export function influenceColor(s: number): string {
  return `rgba(250, 204, 21, ${(0.06 + 0.6 * s).toFixed(3)})`
}

const lin = (c: number) => {
  const v = c / 255
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4
}
const luminance = (r: number, g: number, b: number) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)

/**
 * Text colour on the highlight of strength s (drawn over the dark page, ~#0a0a0c): light
 * text while the amber is faint, dark text once it is bright — whichever contrasts more, so
 * every token stays readable (WCAG contrast) at any influence.
 */
export function influenceTextColor(s: number): string {
  const a = 0.06 + 0.6 * Math.min(1, Math.max(0, s))
  const bg = [250, 204, 21].map((c, i) => c * a + [10, 10, 12][i] * (1 - a)) as [number, number, number]
  const L = luminance(...bg)
  const light = (0.787 + 0.05) / (L + 0.05) // #e4e4e7
  const dark = (L + 0.05) / (0.0035 + 0.05) // #09090b
  return light >= dark ? '#e4e4e7' : '#09090b'
}
