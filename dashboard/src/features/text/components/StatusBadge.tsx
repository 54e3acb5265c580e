import { sentryStatusStyle } from '../lib/sentryStatus'

/** A chunk status as glyph + label + colour (never colour alone). */
export function SentryStatusBadge({ status, short = false }: { status: string; short?: boolean }) {
  const s = sentryStatusStyle(status)
  return (
    <span
      data-status={status}
      className="inline-flex items-center gap-1 whitespace-nowrap rounded px-1.5 py-px text-[11px] font-medium"
      style={{ color: s.color, background: `${s.color}1a`, boxShadow: `inset 0 0 0 1px ${s.color}40` }}
    >
      <span aria-hidden="true">{s.glyph}</span>
      {short ? s.short : s.label}
    </span>
  )
}

const RUN_STYLE: Record<string, { color: string; glyph: string }> = {
  running: { color: '#22d3ee', glyph: '◐' },
  completed: { color: '#34d399', glyph: '●' },
  failed: { color: '#f87171', glyph: '✕' },
  cancelled: { color: '#a1a1aa', glyph: '■' },
  interrupted: { color: '#fb923c', glyph: '▲' },
  starting: { color: '#a1a1aa', glyph: '○' },
}

/** Status of a run (Sentry or red team). */
export function RunStatusBadge({ status }: { status: string }) {
  const s = RUN_STYLE[status] ?? { color: '#a1a1aa', glyph: '?' }
  return (
    <span
      data-run-status={status}
      className="inline-flex items-center gap-1 whitespace-nowrap rounded px-1.5 py-px text-[11px] font-medium"
      style={{ color: s.color, background: `${s.color}1a`, boxShadow: `inset 0 0 0 1px ${s.color}40` }}
    >
      <span aria-hidden="true">{s.glyph}</span>
      {status}
    </span>
  )
}
