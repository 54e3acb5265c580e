import { useMemo } from 'react'
import type { Trajectory } from '@/api/types'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import { nearestIndex } from '@/lib/downsample'
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
 * right axis, and the ghost (other μ) dotted when simulated.
 */
export function StateSeries({
  tr,
  ghost,
  view,
  patch,
}: {
  tr: Trajectory
  ghost: { t: number[]; obs: number[][] } | null
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
}) {
  const ghostOnT = useMemo(() => {
    if (!ghost?.t.length) return null
    return tr.t.map((t) => {
      const j = nearestIndex(ghost.t, t)
      return Math.abs(ghost.t[j] - t) <= tr.stride ? ghost.obs[j] : null
    })
  }, [ghost, tr])
  const charts = useMemo(
    () =>
      COMPONENTS.map((c) => {
        const truth = tr.obs.map((o) => o[c.i])
        const ad = tr.pred_adaptive.map((o) => o?.[c.i] ?? null)
        const s: ChartSeries[] = [
          { key: 'truth', label: 'truth', color: '#e4e4e7', values: truth, width: 1.5 },
          { key: 'baseline', label: 'baseline pred', color: '#a1a1aa', values: tr.pred_baseline.map((o) => o?.[c.i] ?? null), dash: [5, 4], width: 1.25 },
          {
            key: 'adaptive',
            label: 'adaptive pred',
            color: '#22d3ee',
            values: ad,
            dash: [5, 4],
            width: 1.25,
            band: {
              min: ad.map((v, i) => (v === null ? null : Math.min(v, truth[i]))),
              max: ad.map((v, i) => (v === null ? null : Math.max(v, truth[i]))),
              alpha: 0.25,
            },
          },
        ]
        if (ghostOnT) s.push({ key: 'ghost', label: 'ghost (other μ)', color: '#f4f4f5', values: ghostOnT.map((o) => o?.[c.i] ?? null), dash: [1, 3], width: 1.5 })
        if (tr.actions.length)
          s.push({ key: 'action', label: `a${c.act ? 'y' : 'x'} (action)`, color: '#fbbf24', values: tr.actions.map((a) => a?.[c.act] ?? null), width: 0.75, alpha: 0.45, scale: 'y2', step: true })
        return { ...c, series: s }
      }),
    [tr, ghostOnT],
  )
  const err = useMemo<ChartSeries[]>(() => {
    const e = (p: number[][]) => tr.obs.map((o, i) => (p[i] ? Math.hypot(p[i][0] - o[0], p[i][1] - o[1], p[i][2] - o[2], p[i][3] - o[3]) : null))
    return [
      { key: 'baseline_err', label: '‖baseline − truth‖', color: '#a1a1aa', values: e(tr.pred_baseline), width: 1.25 },
      { key: 'adaptive_err', label: '‖adaptive − truth‖', color: '#22d3ee', values: e(tr.pred_adaptive), width: 1.5 },
    ]
  }, [tr])
  const xRange: [number, number] | null = view.from !== null && view.to !== null ? [view.from, view.to] : null
  const zoom = {
    onZoom: (from: number, to: number) => patch({ from, to }, { push: true }),
    onResetZoom: () => patch({ from: null, to: null }, { push: true }),
  }
  return (
    <div className="grid grid-cols-1 gap-x-4 gap-y-2 lg:grid-cols-2" data-testid="state-series">
      {charts.map((c) => (
        <div key={c.key} className="min-w-0">
          <div className="text-[11px] font-medium text-zinc-400">{c.label}</div>
          <TimeChart id={`state-${c.key}`} ariaLabel={`${c.label} over time, truth and predictions, with the action`} x={tr.t} series={c.series} height={150} xRange={xRange} y2Label="action" exportName={`state_${c.key}`} {...zoom} />
        </div>
      ))}
      <div className="min-w-0 lg:col-span-2">
        <div className="text-[11px] font-medium text-zinc-400">Prediction error ‖ŷ − y‖ (all four components)</div>
        <TimeChart id="state-error" ariaLabel="Prediction error magnitude over time, baseline versus adaptive" x={tr.t} series={err} height={140} xRange={xRange} log gap={['baseline_err', 'adaptive_err']} alignY2 exportName="prediction_error" {...zoom} />
      </div>
    </div>
  )
}
