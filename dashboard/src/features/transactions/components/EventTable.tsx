import { useVirtualizer } from '@tanstack/react-virtual'
import { Fragment, useEffect, useRef, useState } from 'react'
import type { UpdateEvent } from '@/api/types'
import { EventDetail, LossDiff } from '@/components/nano/EventDetail'
import { StatusBadge } from '@/components/ui/StatusBadge'
import { ErrorState } from '@/components/ui/States'
import { fmtInt, fmtNum, fmtPct, relChange } from '@/lib/format'
import { eventReasons, shortReason } from '@/lib/reasons'
import { useCursor } from '@/stores/cursor'
import { usePagedEvents } from '../hooks/usePagedEvents'

const COLS: { key: string; label: string; sort?: string; cls: string }[] = [
  { key: 'expand', label: '', cls: 'w-7' },
  { key: 't', label: 't', sort: 't', cls: 'w-20 text-right' },
  { key: 'status', label: 'status', sort: 'status', cls: 'w-44' },
  { key: 'loss', label: 'held-out loss pre → post', sort: 'post_loss', cls: 'w-56' },
  { key: 'dloss', label: 'Δloss', cls: 'w-20 text-right' },
  { key: 'grad', label: 'grad norm (z)', sort: 'grad_norm', cls: 'w-32 text-right' },
  { key: 'maxh', label: 'max|h| pre → post', sort: 'post_max_h', cls: 'w-40 text-right' },
  { key: 'lr', label: 'lr', sort: 'lr', cls: 'w-20 text-right' },
  { key: 'reason', label: 'reason', cls: 'flex-1 min-w-0' },
]

const ROW_H = 30

/**
 * Every update attempt: sortable (server-side), filterable by status (global filter),
 * virtualised (only visible rows are in the DOM, pages of 200 fetched as they scroll into
 * view), rows expand to the full event with the plain-English reason.
 */
export function EventTable({
  sessionId,
  runId,
  status,
  sort,
  onSort,
  focusT,
  focusIndex,
  from,
  to,
}: {
  sessionId: string
  runId: string
  /** the zoom window [from, to): only its events are listed */
  from: number | null
  to: number | null
  status: string[]
  sort: string
  onSort: (s: string) => void
  focusT: number | null
  /** row index of focusT in the current ordering, when known */
  focusIndex: number | null
}) {
  const scrollRef = useRef<HTMLDivElement>(null)
  const [range, setRange] = useState<[number, number]>([0, 40])
  const [open, setOpen] = useState<Set<number>>(new Set())
  const data = usePagedEvents({ session: sessionId, run: runId, status, sort, start: from, end: to }, range[0], range[1])
  const count = data.total ?? 0
  const v = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_H,
    overscan: 12,
    getItemKey: (i) => data.rowAt(i)?.t ?? `i${i}`,
  })
  const items = v.getVirtualItems()
  const first = items[0]?.index ?? 0
  const last = items[items.length - 1]?.index ?? 0
  useEffect(() => {
    if (first !== range[0] || last !== range[1]) setRange([first, last])
  }, [first, last]) // eslint-disable-line react-hooks/exhaustive-deps

  // Reset expansion and scroll when the query changes.
  useEffect(() => {
    setOpen(new Set())
    scrollRef.current?.scrollTo({ top: 0 })
  }, [sort, status.join(','), from, to]) // eslint-disable-line react-hooks/exhaustive-deps

  // Scroll to an event chosen elsewhere (cursor, chart marker).
  useEffect(() => {
    if (focusIndex !== null && focusIndex < count) v.scrollToIndex(focusIndex, { align: 'center' })
  }, [focusIndex, count]) // eslint-disable-line react-hooks/exhaustive-deps

  const toggle = (t: number) =>
    setOpen((s) => {
      const n = new Set(s)
      if (n.has(t)) n.delete(t)
      else n.add(t)
      return n
    })

  const sortKey = sort.replace(/^-/, '')
  const desc = sort.startsWith('-')
  return (
    <div className="overflow-x-auto">
    <div role="table" aria-label="Update events" aria-rowcount={count + 1} className="min-w-[1000px] text-xs" data-testid="event-table" data-total={count} data-from={from ?? ''} data-to={to ?? ''}>
      <div role="rowgroup">
        <div role="row" aria-rowindex={1} className="flex items-center gap-2 border-b border-zinc-800 px-2 pb-1.5 text-[11px] text-zinc-400">
          {COLS.map((c) => {
            const active = c.sort && sortKey === c.sort
            return (
              <div
                key={c.key}
                role="columnheader"
                aria-sort={active ? (desc ? 'descending' : 'ascending') : c.sort ? 'none' : undefined}
                className={`${c.cls} shrink-0`}
              >
                {c.sort ? (
                  <button
                    type="button"
                    className={`inline-flex items-center gap-0.5 hover:text-zinc-100 ${active ? 'text-zinc-100' : ''}`}
                    onClick={() => onSort(active && !desc ? `-${c.sort}` : (c.sort as string))}
                  >
                    {c.label}
                    <span aria-hidden="true" className="w-2">{active ? (desc ? '↓' : '↑') : ''}</span>
                  </button>
                ) : c.key === 'expand' ? (
                  <span className="sr-only">expand</span>
                ) : (
                  c.label
                )}
              </div>
            )
          })}
        </div>
      </div>
      {data.error && <ErrorState error={data.error} what="events" />}
      {data.total === 0 && (
        <p className="px-2 py-6 text-center text-sm text-zinc-400">
          No update events{status.length ? ' with this status filter' : ''}{from !== null || to !== null ? ' in the zoom window' : ''}.
        </p>
      )}
      <div ref={scrollRef} role="rowgroup" className="relative h-[520px] overflow-y-auto" tabIndex={-1}>
        <div style={{ height: v.getTotalSize(), position: 'relative' }}>
          {items.map((it) => {
            const ev = data.rowAt(it.index)
            return (
              <div
                key={it.key}
                data-index={it.index}
                ref={v.measureElement}
                className="absolute inset-x-0"
                style={{ transform: `translateY(${it.start}px)` }}
              >
                {ev ? (
                  <Row ev={ev} rowIndex={it.index + 2} open={open.has(ev.t)} onToggle={() => toggle(ev.t)} highlight={focusT === ev.t} />
                ) : (
                  <div role="row" aria-rowindex={it.index + 2} className="flex h-[30px] items-center px-2 text-zinc-500">
                    <div role="cell">loading row {fmtInt(it.index + 1)}…</div>
                  </div>
                )}
              </div>
            )
          })}
        </div>
      </div>
    </div>
    </div>
  )
}

function Row({ ev, rowIndex, open, onToggle, highlight }: { ev: UpdateEvent; rowIndex: number; open: boolean; onToggle: () => void; highlight: boolean }) {
  const rc = relChange(ev.pre_loss, ev.post_loss)
  const d = ev.pre_loss != null && ev.post_loss != null ? ev.post_loss - ev.pre_loss : null
  const reason = ev.status === 'commit' ? '' : shortReason(ev.status, eventReasons(ev)[0])
  return (
    <Fragment>
      <div
        role="row"
        aria-rowindex={rowIndex}
        data-t={ev.t}
        data-status={ev.status}
        className={`flex h-[30px] cursor-pointer items-center gap-2 border-b border-zinc-900 px-2 hover:bg-zinc-800/40 ${highlight ? 'bg-amber-400/10' : ''}`}
        onClick={() => {
          onToggle()
          useCursor.getState().setPinned(ev.t)
        }}
      >
        <div role="cell" className="w-7 shrink-0">
          <button
            type="button"
            aria-expanded={open}
            aria-label={`${open ? 'Collapse' : 'Expand'} attempt at t ${ev.t}`}
            onClick={(e) => {
              e.stopPropagation()
              onToggle()
              useCursor.getState().setPinned(ev.t)
            }}
            className="flex h-5 w-5 items-center justify-center rounded text-zinc-400 hover:bg-zinc-700 hover:text-zinc-100"
          >
            <span aria-hidden="true" className={`transition-transform ${open ? 'rotate-90' : ''}`}>▸</span>
          </button>
        </div>
        <div role="cell" className="tabular w-20 shrink-0 text-right font-mono text-zinc-200">{fmtInt(ev.t)}</div>
        <div role="cell" className="w-44 shrink-0"><StatusBadge status={ev.status} /></div>
        <div role="cell" className="w-56 shrink-0"><LossDiff pre={ev.pre_loss} post={ev.post_loss} /></div>
        <div role="cell" className={`tabular w-20 shrink-0 text-right font-mono ${d === null ? 'text-zinc-500' : d < 0 ? 'text-emerald-300' : d > 0 ? 'text-red-300' : 'text-zinc-300'}`} title={rc !== null ? fmtPct(rc, 2, true) : undefined}>
          {d === null ? '—' : `${d > 0 ? '+' : ''}${fmtNum(d, 3)}`}
        </div>
        <div role="cell" className="tabular w-32 shrink-0 text-right font-mono text-zinc-200">
          {fmtNum(ev.grad_norm, 3)}
          {ev.grad_norm_z !== null && ev.grad_norm_z !== undefined && <span className="text-zinc-500"> ({fmtNum(ev.grad_norm_z, 2)})</span>}
        </div>
        <div role="cell" className="tabular w-40 shrink-0 text-right font-mono text-zinc-300">
          {fmtNum(ev.pre_max_h, 3)} → {fmtNum(ev.post_max_h, 3)}
        </div>
        <div role="cell" className="tabular w-20 shrink-0 text-right font-mono text-zinc-400">{fmtNum(ev.lr, 2)}</div>
        <div role="cell" className="min-w-0 flex-1 truncate text-zinc-300" title={eventReasons(ev).join('; ')}>{reason}</div>
      </div>
      {open && (
        <div role="row" className="border-b border-zinc-800 bg-zinc-900/60 px-9 py-3">
          <div role="cell"><EventDetail ev={ev} /></div>
        </div>
      )}
    </Fragment>
  )
}
