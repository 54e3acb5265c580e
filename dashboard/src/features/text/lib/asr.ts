/** Attack success rate with its Wilson 95% interval, as researchers read it. */
import { fmtPct } from '@/lib/format'

export function fmtAsr(rate: number | null | undefined, ci: number[] | null | undefined, queries: number): string {
  if (!queries || typeof rate !== 'number' || !Number.isFinite(rate)) return 'no queries yet'
  const band = ci && ci.length === 2 ? ` (95% CI ${fmtPct(ci[0])}–${fmtPct(ci[1])})` : ''
  return `${fmtPct(rate)}${band}`
}

/** Shortens a payload for a table cell, showing invisible and control characters. */
export function showPayload(p: string, max = 160): string {
  const visible = p.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/g, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`)
  return visible.length > max ? `${visible.slice(0, max - 1)}…` : visible
}
