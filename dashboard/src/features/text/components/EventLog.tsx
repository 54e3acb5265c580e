import { useEffect, useMemo, useRef, useState } from 'react'
import { Toggle } from '@/components/ui/Toggle'
import { fmtInt, fmtNum } from '@/lib/format'
import type { SentryEvent } from '../api/types'
import { explainSentryEvent } from '../lib/explain'
import { SENTRY_STATUSES, sentryStatusStyle } from '../lib/sentryStatus'
import { SentryStatusBadge } from './StatusBadge'

const PAGE = 100
const th = 'px-2 py-1 text-left font-medium text-zinc-400'
const td = 'px-2 py-1 align-top'

/** Every chunk's decision in plain English, filterable by status (the filter lives in the URL). */
export function EventLog({
  events,
  filter,
  onFilter,
  safety,
  focus = null,
}: {
  events: SentryEvent[]
  filter: string[]
  onFilter: (f: string[]) => void
  safety?: string | null
  /** a chunk to show and highlight (?chunk=K, e.g. a link from the anomaly review) */
  focus?: number | null
}) {
  const [page, setPage] = useState(0)
  const focusRow = useRef<HTMLTableRowElement | null>(null)
  const counts = useMemo(() => {
    const c: Record<string, number> = {}
    for (const e of events) c[e.status] = (c[e.status] ?? 0) + 1
    return c
  }, [events])
  const present = [...SENTRY_STATUSES.filter((s) => counts[s]), ...Object.keys(counts).filter((s) => !(SENTRY_STATUSES as readonly string[]).includes(s))]
  const shown = useMemo(() => (filter.length ? events.filter((e) => filter.includes(e.status)) : events), [events, filter])
  const pages = Math.max(1, Math.ceil(shown.length / PAGE))
  const p = Math.min(page, pages - 1)
  const rows = shown.slice(p * PAGE, (p + 1) * PAGE)
  const focusAt = focus === null ? -1 : shown.findIndex((e) => e.chunk === focus)
  useEffect(() => {
    if (focusAt >= 0) setPage(Math.floor(focusAt / PAGE))
  }, [focusAt])
  useEffect(() => {
    focusRow.current?.scrollIntoView({ block: 'center' })
  }, [focusAt, p])
  const toggle = (s: string) => {
    setPage(0)
    onFilter(filter.includes(s) ? filter.filter((x) => x !== s) : [...filter, s])
  }
  return (
    <div>
      <div role="group" aria-label="Filter events by status" className="mb-2 flex flex-wrap items-center gap-1.5">
        {present.map((s) => (
          <Toggle key={s} pressed={filter.includes(s)} onChange={() => toggle(s)} title={`Show only ${sentryStatusStyle(s).label} (combine several)`}>
            <span aria-hidden="true">{sentryStatusStyle(s).glyph}</span> {sentryStatusStyle(s).short} {fmtInt(counts[s])}
          </Toggle>
        ))}
        {filter.length > 0 && (
          <button type="button" className="text-[11px] text-cyan-300 underline" onClick={() => onFilter([])}>
            show all
          </button>
        )}
        <span className="ml-auto text-[11px] text-zinc-400" data-testid="event-log-count" data-shown={shown.length}>
          {fmtInt(shown.length)} of {fmtInt(events.length)} chunks
        </span>
      </div>
      <div className="max-h-[420px] overflow-auto" tabIndex={0} role="region" aria-label="Event log (scrolls)">
        <table className="w-full text-xs" aria-label="Sentry event log" data-testid="event-log">
          <thead className="sticky top-0 bg-zinc-950">
            <tr className="border-b border-zinc-800">
              <th className={th}>chunk</th>
              <th className={th}>decision</th>
              <th className={th}>why</th>
              <th className={`${th} text-right`}>loss</th>
              <th className={`${th} text-right`}>grad norm (z)</th>
              <th className={`${th} text-right`}>canary Δ</th>
              <th className={th} title="token text only when the run kept its text; else its position in the chunk">most influential tokens</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr
                key={e.chunk}
                ref={e.chunk === focus ? focusRow : undefined}
                data-chunk={e.chunk}
                data-status={e.status}
                data-focus={e.chunk === focus || undefined}
                className={`border-b border-zinc-900 ${e.chunk === focus ? 'bg-amber-400/10 outline outline-1 outline-amber-400/60' : ''}`}
              >
                <td className={`${td} font-mono text-zinc-300`}>
                  {e.chunk}
                  <div className="text-[10px] text-zinc-500">tok {e.token_start}–{e.token_end}</div>
                </td>
                <td className={td}><SentryStatusBadge status={e.status} /></td>
                <td className={`${td} max-w-[520px] text-zinc-200`} data-testid="event-reason">
                  {explainSentryEvent(e, safety)}
                  {e.gate && e.gate.rules && e.gate.rules.length > 0 && (
                    <div className="mt-0.5 text-[11px] text-zinc-400">
                      gate rules: <span className="font-mono">{e.gate.rules.join(', ')}</span>
                      {e.gate.latency_ms != null ? ` · ${fmtNum(e.gate.latency_ms, 2)} ms` : ''}
                    </div>
                  )}
                </td>
                <td className={`${td} text-right font-mono`}>{fmtNum(e.loss, 4)}</td>
                <td className={`${td} text-right font-mono`}>
                  {fmtNum(e.grad_norm, 3)}
                  {e.grad_norm_z != null && <span className="text-zinc-500"> ({fmtNum(e.grad_norm_z, 2)})</span>}
                </td>
                <td className={`${td} text-right font-mono`}>{fmtNum(e.canary?.delta, 3)}</td>
                <td className={`${td} font-mono text-[11px] text-zinc-300`}>
                  {(e.top_tokens ?? []).slice(0, 4).map((t) => (
                    <span key={t.pos} className="mr-1 inline-block rounded bg-zinc-800 px-1" title={`position ${t.pos}, influence ${fmtNum(t.score, 3)}`}>
                      {t.token == null ? `#${t.pos}` : JSON.stringify(t.token).slice(1, -1)}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 && <p className="py-4 text-center text-sm text-zinc-400">No chunk has {filter.length ? 'these statuses' : 'been processed yet'}.</p>}
      </div>
      {pages > 1 && (
        <div className="mt-1 flex items-center gap-2 text-xs text-zinc-400">
          <button type="button" className="rounded border border-zinc-700 px-2 disabled:opacity-40" disabled={p === 0} onClick={() => setPage(p - 1)}>
            previous
          </button>
          page {p + 1} of {pages}
          <button type="button" className="rounded border border-zinc-700 px-2 disabled:opacity-40" disabled={p >= pages - 1} onClick={() => setPage(p + 1)}>
            next
          </button>
        </div>
      )}
    </div>
  )
}
