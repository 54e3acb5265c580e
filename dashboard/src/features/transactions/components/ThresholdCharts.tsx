import { useMemo } from 'react'
import type { UpdateEvent } from '@/api/types'
import type { ThresholdLine } from '@/components/charts/drawing'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import { fmtNum } from '@/lib/format'
import type { ViewState } from '@/lib/urlState'

function checkThresholds(events: UpdateEvent[], match: (name: string) => boolean): { values: (number | null)[]; name: string | null } {
  let name: string | null = null
  const values = events.map((e) => {
    const c = e.checks?.find((c) => match(c.name))
    if (c && !name) name = c.name
    return c?.threshold ?? null
  })
  return { values, name }
}

/** A constant threshold also gets a labelled horizontal line. */
function constantLine(values: (number | null)[], label: string, color: string): ThresholdLine[] {
  const f = values.filter((v): v is number => v !== null)
  if (!f.length || f.some((v) => v !== f[0])) return []
  return [{ value: f[0], label: `${label} = ${fmtNum(f[0])}`, color }]
}

interface Spec {
  id: string
  title: string
  series: ChartSeries[]
  thresholds: ThresholdLine[]
  /** limits left off the axis, said in words */
  notes?: string[]
}

const OFF_SCALE = 100 // a limit this many times above every value would flatten the data

/**
 * Keeps a limit series only where it can be drawn honestly: one with no values at all (no
 * such check ran) is dropped with its legend entry; one far above all the data (max|h| vs a
 * 1e6 state-norm limit) is dropped from the axis and named in a note instead, so the data
 * does not sit on the floor of a scale made for the limit.
 */
function fitLimits(spec: Spec, limitKeys: string[]): Spec {
  const dataMax = Math.max(
    ...spec.series.filter((s) => !limitKeys.includes(s.key)).flatMap((s) => Array.from(s.values).filter((v): v is number => v !== null && Number.isFinite(v))),
  )
  const series: ChartSeries[] = []
  const notes: string[] = []
  let thresholds = spec.thresholds
  for (const s of spec.series) {
    if (!limitKeys.includes(s.key)) {
      series.push(s)
      continue
    }
    const vals = Array.from(s.values).filter((v): v is number => v !== null && Number.isFinite(v))
    if (!vals.length) continue
    const lo = Math.min(...vals)
    if (Number.isFinite(dataMax) && dataMax > 0 && lo > OFF_SCALE * dataMax) {
      const hi = Math.max(...vals)
      notes.push(`${s.label}: ${fmtNum(lo)}${hi !== lo ? `–${fmtNum(hi)}` : ''}, ${Math.round(Math.log10(lo / dataMax))} decades above the data (off the axis)`)
      thresholds = []
      continue
    }
    series.push(s)
  }
  return { ...spec, series, thresholds, notes }
}

/**
 * The gate's view of every attempt: gradient norm, held-out loss before/after and max |h|
 * after the step, each with the threshold its check used (dashed; per-attempt thresholds
 * such as the robust-z limit move with the session's history).
 */
export function ThresholdCharts({
  events,
  view,
  patch,
  onPickEvent,
}: {
  events: UpdateEvent[]
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
  onPickEvent: (t: number) => void
}) {
  const x = useMemo(() => events.map((e) => e.t), [events])
  const marks = useMemo(() => events.map((e) => ({ t: e.t, status: e.status })), [events])
  const specs = useMemo<Spec[]>(() => {
    const grad = checkThresholds(events, (n) => n.startsWith('grad_norm'))
    const loss = checkThresholds(events, (n) => n.startsWith('loss_regression'))
    const state = checkThresholds(events, (n) => n.startsWith('state_norm'))
    const pts = events.length <= 400
    const specs: Spec[] = [
      {
        id: 'thr-grad',
        title: 'Gradient norm vs gate limit',
        series: [
          { key: 'grad_norm', label: 'grad norm', color: '#fb923c', values: events.map((e) => e.grad_norm ?? null), points: pts, width: 1.25 },
          { key: 'grad_limit', label: grad.name ? `limit (${grad.name})` : 'limit', color: '#f87171', values: grad.values, dash: [5, 4], width: 1.25, step: true },
        ],
        thresholds: constantLine(grad.values, 'grad limit', '#f87171'),
      },
      {
        id: 'thr-loss',
        title: 'Held-out loss before → after, with the regression limit',
        series: [
          { key: 'pre_loss', label: 'pre loss', color: '#a1a1aa', values: events.map((e) => e.pre_loss ?? null), points: pts, width: 1.25 },
          { key: 'post_loss', label: 'post loss', color: '#22d3ee', values: events.map((e) => e.post_loss ?? null), points: pts, width: 1.25 },
          { key: 'loss_limit', label: 'max allowed post loss', color: '#f87171', values: loss.values, dash: [5, 4], width: 1.25, step: true },
        ],
        thresholds: [],
      },
      {
        id: 'thr-state',
        title: 'max |h| before → after, with the state-norm limit',
        series: [
          { key: 'pre_max_h', label: 'pre max|h|', color: '#a1a1aa', values: events.map((e) => e.pre_max_h ?? null), points: pts, width: 1.25 },
          { key: 'post_max_h', label: 'post max|h|', color: '#c084fc', values: events.map((e) => e.post_max_h ?? null), points: pts, width: 1.25 },
          { key: 'state_limit', label: 'state_norm_max', color: '#f87171', values: state.values, dash: [5, 4], width: 1.25, step: true },
        ],
        thresholds: constantLine(state.values, 'state_norm_max', '#f87171'),
      },
    ]
    return specs.map((sp) => fitLimits(sp, ['grad_limit', 'loss_limit', 'state_limit']))
  }, [events])
  const xRange: [number, number] | null = view.from !== null && view.to !== null ? [view.from, view.to] : null
  return (
    <div className="grid grid-cols-1 gap-x-4 gap-y-3 xl:grid-cols-3" data-testid="threshold-charts">
      {specs.map((s) => (
        <div key={s.id} className="min-w-0">
          <div className="text-[11px] font-medium text-zinc-400">{s.title}</div>
          <TimeChart
            id={s.id}
            ariaLabel={s.title}
            x={x}
            series={s.series}
            thresholds={s.thresholds}
            markers={marks}
            log
            height={190}
            xRange={xRange}
            onZoom={(from, to) => patch({ from, to }, { push: true })}
            onResetZoom={() => patch({ from: null, to: null }, { push: true })}
            onMarkerPick={(m) => onPickEvent(m.t)}
            exportName={s.id}
            dataAttrs={{ events: events.length, 'off-scale': s.notes?.length ?? 0 }}
          />
          {s.notes?.map((n) => (
            <p key={n} className="text-[11px] text-zinc-500" data-testid={`${s.id}-note`}>{n}</p>
          ))}
        </div>
      ))}
    </div>
  )
}
