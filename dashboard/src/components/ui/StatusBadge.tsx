import { markerSvgPath, statusStyle } from '@/lib/status'

/** The status marker shape as an inline SVG (same shapes as on the charts). */
export function StatusGlyph({ status, size = 10 }: { status: string; size?: number }) {
  const st = statusStyle(status)
  const r = size / 2 - 1
  const d = markerSvgPath(st.shape, size / 2, size / 2, r * 0.9)
  return (
    <svg aria-hidden="true" width={size} height={size} viewBox={`0 0 ${size} ${size}`} className="shrink-0">
      {st.shape === 'cross' ? (
        <path d={d} stroke={st.color} strokeWidth={1.8} fill="none" />
      ) : (
        <path d={d} fill={st.color} />
      )}
    </svg>
  )
}

export function StatusBadge({ status, short = false }: { status: string; short?: boolean }) {
  const st = statusStyle(status)
  return (
    <span
      className="inline-flex items-center gap-1 whitespace-nowrap rounded px-1.5 py-px text-[11px] font-medium"
      style={{ color: st.color, background: `${st.color}1a`, boxShadow: `inset 0 0 0 1px ${st.color}40` }}
    >
      <StatusGlyph status={status} />
      {short ? st.short : st.label}
    </span>
  )
}
