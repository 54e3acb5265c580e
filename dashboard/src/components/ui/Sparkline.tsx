/** Tiny SVG line for hero cards (a few hundred points at most; long series use uPlot). */
export function Sparkline({
  values,
  color,
  width = 120,
  height = 28,
  label,
  log = true,
}: {
  values: ArrayLike<number | null>
  color: string
  width?: number
  height?: number
  label: string
  log?: boolean
}) {
  const tf = (v: number) => (log ? Math.log10(Math.max(v, 1e-12)) : v)
  let lo = Infinity
  let hi = -Infinity
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || !Number.isFinite(v)) continue
    lo = Math.min(lo, tf(v))
    hi = Math.max(hi, tf(v))
  }
  if (!Number.isFinite(lo)) return <svg width={width} height={height} role="img" aria-label={`${label}: no data`} />
  if (hi === lo) hi = lo + 1
  let d = ''
  let pen = false
  const n = values.length
  for (let i = 0; i < n; i++) {
    const v = values[i]
    if (v === null || !Number.isFinite(v)) {
      pen = false
      continue
    }
    const x = n > 1 ? (i / (n - 1)) * (width - 2) + 1 : width / 2
    const y = height - 2 - ((tf(v) - lo) / (hi - lo)) * (height - 4)
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`
    pen = true
  }
  return (
    <svg width={width} height={height} role="img" aria-label={label} className="overflow-visible">
      <path d={d} fill="none" stroke={color} strokeWidth={1.25} strokeLinejoin="round" />
    </svg>
  )
}
