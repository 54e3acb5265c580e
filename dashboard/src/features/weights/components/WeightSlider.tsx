import type { WeightRef } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'

/** Scrub through the weight history (k = 0 is the session's start). */
export function WeightSlider({ items, index, onIndex }: { items: WeightRef[]; index: number; onIndex: (i: number) => void }) {
  const cur = items[index]
  const n = items.length
  return (
    <div className="flex flex-wrap items-center gap-3 rounded-lg border border-zinc-800/80 bg-zinc-900/40 px-3 py-2" data-testid="weight-slider">
      <Button onClick={() => onIndex(index - 1)} disabled={index <= 0}>
        ← prev
      </Button>
      <label className="flex min-w-[240px] flex-1 items-center gap-3 text-xs text-zinc-400">
        <span className="whitespace-nowrap">update k</span>
        <input
          type="range"
          min={0}
          max={Math.max(0, n - 1)}
          step={1}
          value={Math.max(0, index)}
          onChange={(e) => onIndex(Number(e.target.value))}
          aria-valuetext={cur ? `update k ${cur.k} at t ${cur.t}` : undefined}
          className="h-1.5 flex-1 cursor-pointer accent-cyan-400"
          data-testid="weight-k-slider"
        />
      </label>
      <Button onClick={() => onIndex(index + 1)} disabled={index >= n - 1}>
        next →
      </Button>
      <div className="tabular font-mono text-xs text-zinc-200" data-testid="weight-k" data-k={cur?.k} data-t={cur?.t}>
        k = {cur ? fmtInt(cur.k) : '—'} / {fmtInt(items[n - 1]?.k)} · t = {cur ? fmtInt(cur.t) : '—'}
        {cur?.k === 0 ? ' · session start' : ''}
        {cur?.run_id ? ` · ${cur.run_id}` : ''}
        {cur?.inherited_from ? ` · inherited from ${cur.inherited_from}` : ''}
      </div>
    </div>
  )
}
