import { useMemo } from 'react'
import type { WeightStats } from '@/api/types'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import type { ViewState } from '@/lib/urlState'
import { sortMatrices } from './MatricesPanel'

const COLORS: Record<string, string> = { W_u: '#22d3ee', B: '#a78bfa', W_o: '#fbbf24' }
const METRICS = [
  { key: 'fro', label: 'Frobenius norm ‖W‖F' },
  { key: 'max_abs', label: 'max |w|' },
  { key: 'mean', label: 'mean w' },
  { key: 'std', label: 'std w' },
] as const

/** Four small charts (‖W‖F, max|w|, mean, std), one line per matrix, sharing the time cursor. */
export function StatsCharts({
  stats,
  view,
  patch,
  onPickT,
}: {
  stats: WeightStats
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
  onPickT: (t: number) => void
}) {
  const names = sortMatrices(Object.keys(stats.stats))
  const xRange: [number, number] | null = view.from !== null && view.to !== null ? [view.from, view.to] : null
  const charts = useMemo(
    () =>
      METRICS.map((m) => ({
        ...m,
        series: names.map<ChartSeries>((n) => ({
          key: n,
          label: n,
          color: COLORS[n] ?? '#a1a1aa',
          values: stats.stats[n][m.key],
          width: 1.5,
          points: stats.t.length <= 60,
        })),
      })),
    [stats, names.join(',')], // eslint-disable-line react-hooks/exhaustive-deps
  )
  return (
    <div className="grid grid-cols-1 gap-x-4 gap-y-2 lg:grid-cols-2" data-testid="weight-stats" data-updates={stats.k.length}>
      {charts.map((c) => (
        <div key={c.key}>
          <div className="text-[11px] font-medium text-zinc-400">{c.label}</div>
          <TimeChart
            id={`wstat-${c.key}`}
            ariaLabel={`${c.label} of each plastic matrix over time`}
            x={stats.t}
            series={c.series}
            height={150}
            xRange={xRange}
            onZoom={(from, to) => patch({ from, to }, { push: true })}
            onResetZoom={() => patch({ from: null, to: null }, { push: true })}
            onPick={onPickT}
            exportName={`weights_${c.key}`}
          />
        </div>
      ))}
    </div>
  )
}
