/** Circular progress ring (committed / attempted). */
export function Ring({ value, total, size = 40, color = '#34d399' }: { value: number; total: number; size?: number; color?: string }) {
  const frac = total > 0 ? Math.min(1, value / total) : 0
  const r = size / 2 - 4
  const c = 2 * Math.PI * r
  return (
    <svg width={size} height={size} viewBox={`0 0 ${size} ${size}`} role="img" aria-label={`${value} of ${total} (${Math.round(frac * 100)}%)`}>
      <circle cx={size / 2} cy={size / 2} r={r} fill="none" stroke="#27272a" strokeWidth={4} />
      <circle
        cx={size / 2}
        cy={size / 2}
        r={r}
        fill="none"
        stroke={color}
        strokeWidth={4}
        strokeLinecap="round"
        strokeDasharray={`${frac * c} ${c}`}
        transform={`rotate(-90 ${size / 2} ${size / 2})`}
        style={{ transition: 'stroke-dasharray 400ms ease-out' }}
      />
    </svg>
  )
}
