import { useEffect, useRef, useState } from 'react'
import { StatusGlyph } from '@/components/ui/StatusBadge'
import { fmtInt } from '@/lib/format'
import { STATUS_ORDER, statusStyle } from '@/lib/status'
import type { ViewState } from '@/lib/urlState'
import { useCursor } from '@/stores/cursor'

/**
 * The global time controls: pinned cursor (editable), play/pause replay of the cursor through
 * the visible window, zoom window with reset, and the event status filter shared by all views.
 */
export function TimeBar({
  domain,
  view,
  patch,
  counts,
}: {
  domain: [number, number] | null
  view: ViewState
  patch: (p: Partial<ViewState>) => void
  counts?: Record<string, number>
}) {
  const pinned = useCursor((s) => s.pinned)
  const playing = useCursor((s) => s.playing)
  const [speed, setSpeed] = useState(1)
  const lo = view.from ?? domain?.[0] ?? 0
  const hi = view.to ?? domain?.[1] ?? 0
  const zoomed = view.from !== null || view.to !== null

  // Replay: advance the pinned cursor through [lo, hi) in about 20 s at 1×.
  const loopRef = useRef({ lo, hi, speed })
  loopRef.current = { lo, hi, speed }
  useEffect(() => {
    if (!playing) return
    let raf = 0
    let last = performance.now()
    const st = useCursor.getState()
    if (st.pinned === null || st.pinned >= hi - 1 || st.pinned < lo) st.setPinned(lo)
    const tick = (now: number) => {
      const { lo: a, hi: b, speed: sp } = loopRef.current
      const dt = Math.min(0.1, (now - last) / 1000)
      last = now
      const rate = Math.max(1, (b - a) / 20) * sp
      const cur = useCursor.getState().pinned ?? a
      const next = Math.min(b - 1, cur + Math.max(1, Math.round(rate * dt)))
      useCursor.getState().setPinned(next)
      if (next >= b - 1) {
        useCursor.getState().setPlaying(false)
        return
      }
      raf = requestAnimationFrame(tick)
    }
    raf = requestAnimationFrame(tick)
    return () => cancelAnimationFrame(raf)
  }, [playing]) // eslint-disable-line react-hooks/exhaustive-deps

  const toggleStatus = (s: string) => {
    const cur = new Set(view.status)
    if (cur.has(s)) cur.delete(s)
    else cur.add(s)
    patch({ status: STATUS_ORDER.filter((x) => cur.has(x)) })
  }

  return (
    <div className="flex flex-wrap items-center gap-x-4 gap-y-1.5 border-b border-zinc-800/70 px-4 py-1.5 text-[11px] text-zinc-400" data-testid="time-bar">
      <div className="flex items-center gap-1.5">
        <button
          type="button"
          onClick={() => useCursor.getState().setPlaying(!playing)}
          disabled={!domain}
          aria-pressed={playing}
          aria-label={playing ? 'Pause replay' : 'Play replay'}
          className="flex h-6 w-6 items-center justify-center rounded border border-zinc-700 text-zinc-200 hover:border-zinc-500 disabled:opacity-40"
        >
          {playing ? (
            <svg aria-hidden="true" viewBox="0 0 10 10" className="h-2.5 w-2.5" fill="currentColor"><rect x="1" y="1" width="3" height="8" /><rect x="6" y="1" width="3" height="8" /></svg>
          ) : (
            <svg aria-hidden="true" viewBox="0 0 10 10" className="h-2.5 w-2.5" fill="currentColor"><path d="M2 1 L9 5 L2 9 Z" /></svg>
          )}
        </button>
        <label className="flex items-center gap-1">
          <span className="sr-only">Replay speed</span>
          <select value={speed} onChange={(e) => setSpeed(Number(e.target.value))} className="h-6 rounded border border-zinc-700 bg-zinc-900 px-1 text-[11px] text-zinc-200">
            {[0.25, 0.5, 1, 2, 4].map((s) => (
              <option key={s} value={s}>{s}×</option>
            ))}
          </select>
        </label>
        <label className="flex items-center gap-1">
          cursor t
          <input
            type="number"
            inputMode="numeric"
            className="h-6 w-24 rounded border border-zinc-700 bg-zinc-900 px-1 font-mono text-[11px] text-amber-300"
            value={pinned ?? ''}
            placeholder="—"
            min={domain?.[0]}
            max={domain ? domain[1] - 1 : undefined}
            onChange={(e) => {
              const v = e.target.value === '' ? null : Math.round(Number(e.target.value))
              useCursor.getState().setPinned(v !== null && Number.isFinite(v) ? v : null)
            }}
            data-testid="cursor-input"
          />
        </label>
        <span className="hidden text-zinc-500 lg:inline" aria-hidden="true">←/→ step · Shift ×10</span>
      </div>
      <div className="flex items-center gap-1.5">
        <span>window</span>
        <span className="font-mono text-zinc-200" data-testid="window-range">
          {domain ? `${fmtInt(lo)} – ${fmtInt(hi)}` : '—'}
        </span>
        {zoomed ? (
          <button type="button" onClick={() => patch({ from: null, to: null })} className="h-6 rounded border border-zinc-700 px-1.5 text-zinc-200 hover:border-zinc-500">
            Reset zoom
          </button>
        ) : (
          <span className="text-zinc-500">(drag on a chart to zoom)</span>
        )}
      </div>
      <div role="group" aria-label="Filter update events by status" className="ml-auto flex flex-wrap items-center gap-1">
        <span className="mr-0.5">events</span>
        {STATUS_ORDER.map((s) => {
          const st = statusStyle(s)
          const on = view.status.length === 0 || view.status.includes(s)
          const n = counts?.[s]
          return (
            <button
              key={s}
              type="button"
              aria-pressed={view.status.includes(s)}
              onClick={() => toggleStatus(s)}
              title={`${st.label}${n !== undefined ? `: ${n}` : ''}`}
              className={`flex h-6 items-center gap-1 rounded border px-1.5 ${
                view.status.includes(s) ? 'border-zinc-500 bg-zinc-800 text-zinc-100' : 'border-zinc-800 text-zinc-400 hover:border-zinc-600'
              } ${on ? '' : 'opacity-50'}`}
            >
              <StatusGlyph status={s} />
              {st.short}
              {n !== undefined && <span className="font-mono text-zinc-500">{fmtInt(n)}</span>}
            </button>
          )
        })}
        {view.status.length > 0 && (
          <button type="button" onClick={() => patch({ status: [] })} className="h-6 rounded px-1.5 text-zinc-300 underline-offset-2 hover:underline">
            all
          </button>
        )}
      </div>
    </div>
  )
}
