import { useMemo, useState } from 'react'
import { fmtInt, fmtNum } from '@/lib/format'
import type { SentryEvent } from '../api/types'
import { explainSentryEvent } from '../lib/explain'
import { influenceColor, influenceScale, strength } from '../lib/influence'
import { isStopped, sentryStatusStyle } from '../lib/sentryStatus'

const MAX_CHUNKS = 300

/**
 * The monitored text, token by token, highlighted by each token's influence on the write;
 * chunks whose write was blocked or rolled back are outlined and labelled. Only runs stored
 * with keep_text have their text on disk: for the others this says so plainly.
 */
export function TextView({ keepText, events, nChars }: { keepText: boolean; events: SentryEvent[]; nChars?: number | null }) {
  const [all, setAll] = useState(false)
  const scale = useMemo(() => influenceScale(events.flatMap((e) => e.influence ?? [])), [events])
  if (!keepText)
    return (
      <p className="rounded border border-dashed border-zinc-700 px-3 py-4 text-sm text-zinc-300" data-testid="text-not-stored">
        The text of this run was not stored: it ran without <span className="font-mono">keep text</span>, so only its length ({fmtInt(nChars)} characters) and
        sha256 are on disk. The per-chunk signals above and the event log are complete; to see the text with per-token influence, run it again with
        “keep text” on.
      </p>
    )
  const shown = all ? events : events.slice(0, MAX_CHUNKS)
  return (
    <div>
      <div className="mb-2 flex flex-wrap items-center gap-3 text-[11px] text-zinc-400">
        <span className="flex items-center gap-1">
          influence on the write:
          {[0, 0.25, 0.5, 0.75, 1].map((s) => (
            <span key={s} aria-hidden="true" className="inline-block h-3 w-5 rounded-sm" style={{ background: influenceColor(s) }} />
          ))}
          <span>low → high (scaled to the run’s 98th percentile{scale !== null ? ` = ${fmtNum(scale, 3)}` : ''})</span>
        </span>
        <span><span style={{ color: sentryStatusStyle('blocked_gate').color }}>⬟ blocked</span> / <span style={{ color: sentryStatusStyle('rollback_canary').color }}>✕ rolled back</span>: outlined chunk, label in front</span>
      </div>
      <div tabIndex={0} role="region" aria-label="Monitored text with per-token influence (scrolls)" className="max-h-[520px] overflow-auto rounded border border-zinc-800 bg-zinc-950/60 p-3 font-mono text-[12px] leading-6 text-zinc-200" data-testid="text-view">
        {shown.map((e) => (
          <Chunk key={e.chunk} ev={e} scale={scale} />
        ))}
      </div>
      {!all && events.length > MAX_CHUNKS && (
        <button type="button" className="mt-1 text-xs text-cyan-300 underline" onClick={() => setAll(true)}>
          show all {fmtInt(events.length)} chunks (first {MAX_CHUNKS} shown)
        </button>
      )}
    </div>
  )
}

function Chunk({ ev, scale }: { ev: SentryEvent; scale: number | null }) {
  const st = sentryStatusStyle(ev.status)
  const stopped = isStopped(ev.status)
  const tokens = ev.tokens ?? null
  const infl = ev.influence ?? []
  return (
    <span
      data-chunk={ev.chunk}
      data-status={ev.status}
      data-stopped={stopped}
      title={`chunk ${ev.chunk}: ${explainSentryEvent(ev)}`}
      className={stopped ? 'rounded-sm px-0.5' : undefined}
      style={stopped ? { outline: `1.5px dashed ${st.color}`, outlineOffset: 1, textDecoration: 'line-through', textDecorationColor: `${st.color}99` } : undefined}
    >
      {stopped && (
        <span className="mr-1 rounded px-1 text-[10px] font-sans font-semibold not-italic" style={{ color: st.color, background: `${st.color}22`, textDecoration: 'none', display: 'inline-block' }} data-testid="chunk-flag">
          {st.glyph} {st.short} #{ev.chunk}
        </span>
      )}
      {tokens
        ? tokens.map((tok, i) => (
            <span
              key={i}
              data-token={i}
              style={{ background: influenceColor(strength(infl[i], scale)), whiteSpace: 'pre-wrap' }}
              title={`${JSON.stringify(tok)} influence ${fmtNum(infl[i] ?? null, 3)}`}
            >
              {tok}
            </span>
          ))
        : <span style={{ whiteSpace: 'pre-wrap' }}>{ev.text ?? ''}</span>}
    </span>
  )
}
