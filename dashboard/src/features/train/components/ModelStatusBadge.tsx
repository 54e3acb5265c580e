import type { TextModelStatus } from '@/api/types'

/** Status of a text model: a glyph as well as a colour (never colour alone). */
const STYLE: Record<string, { color: string; glyph: string }> = {
  training: { color: '#22d3ee', glyph: '◐' },
  completed: { color: '#34d399', glyph: '●' },
  failed: { color: '#f87171', glyph: '✕' },
  cancelled: { color: '#a1a1aa', glyph: '■' },
  interrupted: { color: '#fb923c', glyph: '▲' },
  sleep_candidate: { color: '#c084fc', glyph: '◆' },
  waiting: { color: '#a1a1aa', glyph: '○' },
  missing: { color: '#f87171', glyph: '?' },
}

export function ModelStatusBadge({ status }: { status: TextModelStatus | 'waiting' | 'missing' }) {
  const s = STYLE[status] ?? { color: '#a1a1aa', glyph: '○' }
  return (
    <span
      data-status={status}
      className="inline-flex items-center gap-1 whitespace-nowrap rounded px-1.5 py-px text-[11px] font-medium"
      style={{ color: s.color, background: `${s.color}1a`, boxShadow: `inset 0 0 0 1px ${s.color}40` }}
    >
      <span aria-hidden="true">{s.glyph}</span>
      {status.replace('_', ' ')}
    </span>
  )
}
