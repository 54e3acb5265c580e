import { useState } from 'react'
import type { WeightRef } from '@/api/types'
import { Heatmap } from '@/components/charts/Heatmap'
import { Card } from '@/components/ui/Card'
import { ErrorState, Loading } from '@/components/ui/States'
import { fmtInt, fmtNum } from '@/lib/format'
import { useWeightDelta } from '../api/weightDelta'
import { sortMatrices } from './MatricesPanel'

const sel = 'h-7 rounded border border-zinc-700 bg-zinc-900 px-1 text-xs text-zinc-100'

/** W(to) − W(from): which weights an update (or a span of updates) changed, and how much. */
export function DeltaPanel({ sessionId, items, toIndex }: { sessionId: string; items: WeightRef[]; toIndex: number }) {
  const [span, setSpan] = useState<'prev' | 'start'>('prev')
  const to = items[toIndex]
  const from = span === 'start' ? items[0] : items[Math.max(0, toIndex - 1)]
  const q = useWeightDelta(sessionId, from && to && from.k !== to.k ? from.k : null, to?.k ?? null)
  return (
    <Card
      id="wdelta"
      title="Weight change"
      subtitle={from && to ? `W(k=${to.k}) − W(k=${from.k}) · t ${fmtInt(from.t)} → ${fmtInt(to.t)}` : undefined}
      actions={
        <label className="flex items-center gap-1.5 text-[11px] text-zinc-400">
          compare with
          <select className={sel} value={span} onChange={(e) => setSpan(e.target.value as 'prev' | 'start')}>
            <option value="prev">previous commit</option>
            <option value="start">session start (k = 0)</option>
          </select>
        </label>
      }
    >
      {!from || !to || from.k === to.k ? (
        <p className="text-sm text-zinc-400">k = {to?.k ?? 0} is the session's start: nothing to compare with. Move the slider to a later update.</p>
      ) : q.error ? (
        <ErrorState error={q.error} what="weight delta" />
      ) : !q.data ? (
        <Loading what="weight delta" />
      ) : (
        <div className="flex flex-wrap items-start gap-5" data-testid="weight-delta" data-from-k={q.data.from_k} data-to-k={q.data.to_k}>
          {sortMatrices(Object.keys(q.data.matrices)).map((name) => {
            const m = q.data.matrices[name]
            const st = q.data.stats?.[name]
            return (
              <div key={name}>
                <Heatmap id={`delta-${name}`} title={`Δ${name}`} rows={m.shape[0]} cols={m.shape[1] ?? 1} data={m.data} maxWidth={name === 'W_o' ? 560 : 300} />
                {st && (
                  <div className="tabular mt-0.5 font-mono text-[10px] text-zinc-500">
                    ‖Δ‖F {fmtNum(st.fro, 3)} · max|Δ| {fmtNum(st.max_abs, 3)}
                  </div>
                )}
              </div>
            )
          })}
        </div>
      )}
    </Card>
  )
}
