import { sentryStatusStyle } from '@/features/text/lib/sentryStatus'
import { OUTCOME_STYLE, type TurnOutcome } from '../lib/turns'

const pill = 'inline-flex items-center gap-1 whitespace-nowrap rounded px-1.5 py-px text-[11px] font-medium'
const tint = (color: string) => ({ color, background: `${color}1a`, boxShadow: `inset 0 0 0 1px ${color}40` })

/** A write status as glyph + label + colour (never colour alone). */
export function WriteStatusBadge({ status, count, short = false }: { status: string; count?: number; short?: boolean }) {
  const s = sentryStatusStyle(status)
  return (
    <span data-status={status} className={pill} style={tint(s.color)}>
      <span aria-hidden="true">{s.glyph}</span>
      {count !== undefined ? `${count} × ` : ''}
      {short ? s.short : s.label}
    </span>
  )
}

export function OutcomeBadge({ outcome }: { outcome: TurnOutcome }) {
  const s = OUTCOME_STYLE[outcome]
  return (
    <span data-outcome={outcome} className={pill} style={tint(s.color)}>
      <span aria-hidden="true">{s.glyph}</span>
      {s.label}
    </span>
  )
}

const MODE: Record<string, { color: string; glyph: string }> = {
  all: { color: '#34d399', glyph: '◆' },
  gate: { color: '#38bdf8', glyph: '⬟' },
  rollback: { color: '#38bdf8', glyph: '↺' },
  spfw: { color: '#38bdf8', glyph: '⊥' },
  off: { color: '#f87171', glyph: '○' },
}

/** The safety mode of a session; "off" is red: every write lands. */
export function SafetyBadge({ mode }: { mode: string }) {
  const s = MODE[mode] ?? { color: '#a1a1aa', glyph: '?' }
  return (
    <span data-safety={mode} className={pill} style={tint(s.color)} title={`safety: ${mode}`}>
      <span aria-hidden="true">{s.glyph}</span>
      safety {mode}
    </span>
  )
}
