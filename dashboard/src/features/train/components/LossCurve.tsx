import { useMemo, useState } from 'react'
import type { TrainLogRow } from '@/api/types'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import { Toggle } from '@/components/ui/Toggle'
import { debiasedEma } from '@/lib/ema'

const ALPHA = 0.15

/** Train loss (raw faint + debiased EMA) and validation loss (points) against the step. */
export function LossCurve({ modelId, rows }: { modelId: string; rows: TrainLogRow[] }) {
  const [log, setLog] = useState(true)
  const [smooth, setSmooth] = useState(true)
  const { x, series, nVal } = useMemo(() => {
    const x = rows.map((r) => r.step)
    const train = rows.map((r) => r.train_loss ?? null)
    const val = rows.map((r) => r.val_loss ?? null)
    const s: ChartSeries[] = []
    if (smooth) {
      s.push({ key: 'train_raw', label: 'train (raw)', color: '#22d3ee', values: train, alpha: 0.3, width: 1, tooltip: true })
      s.push({ key: 'train', label: `train (EMA α=${ALPHA})`, color: '#22d3ee', values: debiasedEma(train, ALPHA), width: 2 })
    } else {
      s.push({ key: 'train', label: 'train', color: '#22d3ee', values: train, width: 1.5 })
    }
    s.push({ key: 'val', label: 'validation', color: '#f59e0b', values: val, points: true, spanGaps: true, width: 1.5, dash: [5, 3] })
    return { x, series: s, nVal: val.filter((v) => v !== null).length }
  }, [rows, smooth])
  return (
    <div>
      <div className="mb-1 flex items-center gap-1.5">
        <Toggle pressed={log} onChange={setLog} title="Logarithmic y axis">log y</Toggle>
        <Toggle pressed={smooth} onChange={setSmooth} title="Debiased EMA of the train loss, raw line faint underneath">smooth</Toggle>
      </div>
      <TimeChart
        id="train-loss-chart"
        ariaLabel={`Train and validation loss of ${modelId} by step (${rows.length} logged steps, ${nVal} evaluations)`}
        x={x}
        series={series}
        log={log}
        xLabel="step"
        yLabel="loss (nats/token)"
        syncCursor={false}
        height={260}
        exportName={`${modelId}-loss`}
        dataAttrs={{ model: modelId, 'val-points': nVal, 'last-step': x.length ? x[x.length - 1] : null }}
      />
    </div>
  )
}
