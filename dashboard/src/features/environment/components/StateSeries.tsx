import { useMemo } from 'react'
import type { Trajectory } from '@/api/types'
import type { ThresholdLine } from '@/components/charts/drawing'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import { nearestIndex } from '@/lib/downsample'
import { predictionErrors, sampleIndices, stateTimeline } from '../lib/aligned'
import type { ViewState } from '@/lib/urlState'

const COMPONENTS = [
  { i: 0, key: 'x', label: 'x (position)', act: 0 },
  { i: 1, key: 'y', label: 'y (position)', act: 1 },
  { i: 2, key: 'vx', label: 'vx (velocity)', act: 0 },
  { i: 3, key: 'vy', label: 'vy (velocity)', act: 1 },
] as const

/**
 * x, y, vx, vy over time: truth solid, baseline prediction dashed grey, adaptive prediction
 * dashed cyan with the error band (between truth and adaptive) shaded, the action on the
 * right axis, and the ghost (other μ) dotted when simulated. A prediction is drawn at the
 * time of the state it predicts (made at t − 1); the error chart is indexed like
 * per_step.csv: the error of the prediction made at t (of the state at t + 1).
 */
export function StateSeries({
  tr,
  ghost,
  view,
  patch,
  events = [],
}: {
  tr: Trajectory
  /** vertical marks in time (a μ jump) */
  events?: ThresholdLine[]
  ghost: { t: number[]; obs: number[][] } | null
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
}) {
  const tl = useMemo(() => stateTimeline(tr), [tr])
  const aligned = (tr.next_obs ?? []).length > 0
  const ghostOnT = useMemo(() => {
    if (!ghost?.t.length) return null
    return tl.x.map((t) => {
      const j = nearestIndex(ghost.t, t)
      return Math.abs(ghost.t[j] - t) <= tr.stride ? ghost.obs[j] : null
    })
  }, [ghost, tl, tr.stride])
  const actionsOnT = useMemo(() => {
    const byT = new Map<number, number[]>()
    tr.t.forEach((t, i) => tr.actions[i] && byT.set(t, tr.actions[i]))
    return tl.x.map((t) => byT.get(t) ?? null)
  }, [tr, tl])
  const charts = useMemo(
    () =>
      COMPONENTS.map((c) => {
        const truth = tl.truth.map((o) => o?.[c.i] ?? null)
        const ad = tl.adaptive.map((o) => o?.[c.i] ?? null)
        const sparse = tr.stride > 1
        const s: ChartSeries[] = [
          { key: 'truth', label: 'truth', color: '#e4e4e7', values: truth, width: 1.5, spanGaps: true },
          { key: 'baseline', label: 'baseline pred', color: '#a1a1aa', values: tl.baseline.map((o) => o?.[c.i] ?? null), dash: [5, 4], width: 1.25, spanGaps: sparse },
          {
            key: 'adaptive',
            label: 'adaptive pred',
            color: '#22d3ee',
            values: ad,
            dash: [5, 4],
            width: 1.25,
            spanGaps: sparse,
            band: {
              min: ad.map((v, i) => (v === null || truth[i] === null ? null : Math.min(v, truth[i] as number))),
              max: ad.map((v, i) => (v === null || truth[i] === null ? null : Math.max(v, truth[i] as number))),
              alpha: 0.25,
            },
          },
        ]
        if (ghostOnT) s.push({ key: 'ghost', label: 'ghost (other μ)', color: '#f4f4f5', values: ghostOnT.map((o) => o?.[c.i] ?? null), dash: [1, 3], width: 1.5, spanGaps: true })
        if (tr.actions.length)
          s.push({ key: 'action', label: `a${c.act ? 'y' : 'x'} (action)`, color: '#fbbf24', values: actionsOnT.map((a) => a?.[c.act] ?? null), width: 0.75, alpha: 0.45, scale: 'y2', step: true, spanGaps: true })
        return { ...c, series: s }
      }),
    [tl, tr, ghostOnT, actionsOnT],
  )
  const errs = useMemo(() => predictionErrors(tr), [tr])
  const err = useMemo<ChartSeries[]>(
    () => [
      { key: 'baseline_err', label: 'baseline (pretrained base) MSE', color: '#a1a1aa', values: errs.baseline, width: 1.25 },
      { key: 'adaptive_err', label: 'adaptive MSE', color: '#22d3ee', values: errs.adaptive, width: 1.5 },
    ],
    [errs],
  )
  const sample = useMemo(() => sampleIndices(errs.t.length, 24).filter((i) => errs.adaptive[i] !== null), [errs])
  const xRange: [number, number] | null = view.from !== null && view.to !== null ? [view.from, view.to] : null
  const zoom = {
    onZoom: (from: number, to: number) => patch({ from, to }, { push: true }),
    onResetZoom: () => patch({ from: null, to: null }, { push: true }),
  }
  return (
    <div className="grid grid-cols-1 gap-x-4 gap-y-2 lg:grid-cols-2" data-testid="state-series" data-aligned={aligned}>
      {!aligned && (
        <p className="text-[11px] text-amber-300 lg:col-span-2">
          This stored trajectory is strided: the state each prediction is for is not kept, so predictions and their error are not shown.
        </p>
      )}
      {charts.map((c) => (
        <div key={c.key} className="min-w-0">
          <div className="text-[11px] font-medium text-zinc-400">{c.label}</div>
          <TimeChart id={`state-${c.key}`} ariaLabel={`${c.label} over time, truth and the predictions of each state (made one step earlier), with the action`} x={tl.x} series={c.series} height={150} xRange={xRange} y2Label="action" exportName={`state_${c.key}`} thresholds={events} {...zoom} />
        </div>
      ))}
      <div className="min-w-0 lg:col-span-2">
        <div className="text-[11px] font-medium text-zinc-400">
          Prediction error at step t: MSE of the prediction made at t against the state at t + 1, mean over x, y, vx, vy (the per_step.csv series)
        </div>
        <TimeChart id="state-error" ariaLabel="Prediction error per step (mean squared error over the four components), baseline versus adaptive" x={errs.t} series={err} height={180} xRange={xRange} log gap={['baseline_err', 'adaptive_err']} alignY2 exportName="prediction_error" yLabel="MSE" thresholds={events} dataAttrs={{ 'mu-jump': events[0]?.value }} {...zoom} />
        <table hidden data-testid="prediction-error-sample">
          <tbody>
            {sample.map((i) => (
              <tr key={errs.t[i]} data-t={errs.t[i]} data-baseline={errs.baseline[i] ?? ''} data-adaptive={errs.adaptive[i] ?? ''} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  )
}
