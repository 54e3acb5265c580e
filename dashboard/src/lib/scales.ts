/**
 * y range for a log-10 axis that fits the data (instead of whole decades) while staying
 * safe for uPlot: within 12 decades, within 1e-15..1e15, and with a minimum of the form
 * k·10^e (k = 1..9) — uPlot's log splits step by 10^e from the minimum and never terminate
 * if that walk misses the next decade (e.g. from 9.99e-6).
 */
export function logRange(mn: number | null, mx: number | null): [number, number] {
  if (mx === null || !(mx > 0) || !Number.isFinite(mx)) return [1e-6, 1]
  const hi = Math.min(1e15, mx * 1.25)
  const raw = Math.min(hi / 10, Math.max(1e-15, hi * 1e-12, mn !== null && mn > 0 ? mn / 1.25 : hi * 1e-3))
  const e = Math.floor(Math.log10(raw))
  const lo = Math.max(1, Math.floor(raw / 10 ** e)) * 10 ** e
  return [Number(lo.toPrecision(1)), hi]
}
