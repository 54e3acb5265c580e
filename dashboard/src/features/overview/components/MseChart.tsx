import { useEffect, useMemo, useRef } from 'react'
import { perStepCsvUrl, usePerStep } from '@/api/queries/perStep'
import type { RunInfo, SessionDetail } from '@/api/types'
import { TimeChart, type ChartSeries } from '@/components/charts/TimeChart'
import { Card } from '@/components/ui/Card'
import { StatusGlyph } from '@/components/ui/StatusBadge'
import { ErrorState, Loading } from '@/components/ui/States'
import { Toggle } from '@/components/ui/Toggle'
import { useElementWidth } from '@/hooks/useElementWidth'
import { fmtInt } from '@/lib/format'
import { muEvents, runReference } from '@/lib/reference'
import { STATUS_ORDER, statusStyle } from '@/lib/status'
import type { ViewState } from '@/lib/urlState'
import { runKey, usePriority } from '@/stores/priority'
import { runDomain, runReadable } from '@/types/nano'
import type { LiveBuffer } from '../hooks/useLiveRun'
import { useMseData } from '../hooks/useMseData'

const EMA_ALPHA = 0.05
const C = { baseline: '#a1a1aa', adaptive: '#22d3ee', frozen: '#64748b', oracle: '#a3e635' }

interface Props {
  sessionId: string
  runId: string
  run: RunInfo | undefined
  view: ViewState
  patch: (p: Partial<ViewState>, o?: { push?: boolean }) => void
  live: { buffer: LiveBuffer; version: number; active: boolean }
  /** attempts per status of the run (events endpoint), plus live ones: the hero shows the same */
  totals: Record<string, number>
  detail: SessionDetail
}

/** The hero chart: baseline vs adaptive MSE, learning gap, update markers, and the timeline. */
export function MseChart({ sessionId, runId, run, view, patch, live, totals, detail }: Props) {
  const ref = useRef<HTMLDivElement>(null)
  const width = useElementWidth(ref)
  const points = Math.max(100, width - 64)
  const readable = runReadable(run)
  const q = usePerStep({ session: sessionId, run: runId, start: view.from, end: view.to, points, emaAlpha: EMA_ALPHA }, width > 0 && readable)
  const zoom: [number, number] | null = view.from !== null && view.to !== null ? [view.from, view.to] : null
  useEffect(() => {
    if (q.data || q.error) usePriority.getState().markReady(runKey(sessionId, runId))
  }, [q.data, q.error, sessionId, runId])
  const data = useMseData(q.data, live.active ? live.buffer : null, live.version, zoom, points, EMA_ALPHA)
  const domain = runDomain(run)
  const xRange: [number, number] | null = zoom ?? (live.active || !domain ? null : [domain[0], domain[1] - 1])

  const smooth = view.smooth
  const reference = runReference(detail.meta, detail.runs, run)
  const oracleZero = useMemo(() => {
    const o = data?.oracle
    if (!o || !o.length) return false
    let zero = false
    for (let i = 0; i < o.length; i++) {
      if (o[i] === null) continue
      if (o[i] !== 0) return false
      zero = true
    }
    return zero
  }, [data?.oracle])
  const series = useMemo<ChartSeries[]>(() => {
    if (!data) return []
    const banded = data.bucket > 1
    const raw = (key: 'baseline' | 'adaptive', label: string, width: number): ChartSeries => ({
      key: smooth ? `${key}_raw` : key,
      label: smooth ? `${label} (raw)` : label,
      color: C[key],
      values: data[key].mean,
      width: smooth ? 1 : width,
      alpha: smooth ? 0.35 : undefined,
      band: banded ? { min: data[key].min, max: data[key].max, alpha: key === 'adaptive' ? 0.14 : 0.1 } : undefined,
    })
    const out: ChartSeries[] = [raw('baseline', 'baseline (pretrained base, frozen)', 1.25), raw('adaptive', 'adaptive (TTT)', 2)]
    if (smooth) {
      out.push({ key: 'baseline', label: 'baseline EMA', color: C.baseline, values: data.baselineEma, width: 1.5 })
      out.push({ key: 'adaptive', label: 'adaptive EMA', color: C.adaptive, values: data.adaptiveEma, width: 2.25 })
    }
    // frozen_mse: the session's own start (a fork's fork point); identical to the baseline
    // line for a new session, so only drawn where it says something
    if (data.frozen.length && reference.frozenLabel)
      out.push({ key: 'frozen', label: reference.frozenLabel, color: C.frozen, values: data.frozen, width: 1.25, dash: [2, 3], hidden: reference.kind === 'base' })
    if (data.oracle.length)
      out.push({ key: 'oracle', label: oracleZero && view.log ? 'oracle (MSE 0: not drawable on a log axis)' : 'oracle (true simulator)', color: C.oracle, values: data.oracle, width: 1, dash: [6, 3], hidden: true })
    return out
  }, [data, smooth, reference.frozenLabel, reference.kind, oracleZero, view.log])
  const muLines = useMemo(() => muEvents(detail.meta.env_cfg), [detail.meta.env_cfg])

  const marks = useMemo(() => {
    const m = data?.marks ?? []
    return view.status.length ? m.filter((x) => view.status.includes(x.status)) : m
  }, [data?.marks, view.status])

  const shown = STATUS_ORDER.filter((s) => totals[s] && (!view.status.length || view.status.includes(s)))
  const inView = live.active ? undefined : q.data?.updates_total

  // rows in the zoom window (server) plus the live rows appended to it
  const rowsInView = (q.data?.rows ?? data?.total ?? 0) + (data?.live ?? 0)
  const onZoom = (from: number, to: number) => patch({ from, to }, { push: true })
  const onReset = () => patch({ from: null, to: null }, { push: true })
  const onMarker = (m: { t: number }) => patch({ event: m.t, t: m.t }, { push: true })

  return (
    <Card
      id="mse"
      title="Prediction error: baseline vs adaptive"
      subtitle={
        data
          ? `${fmtInt(rowsInView)} steps in view${zoom ? ` (of ${fmtInt(q.data?.total ?? data.total)})` : ''}${data.bucket > 1 ? ` · ${fmtInt(data.bucket)} steps per point (band = min…max)` : ' · exact'}${data.live ? ` · ${fmtInt(data.live)} live` : ''}`
          : undefined
      }
      actions={
        <>
          <Toggle pressed={view.log} onChange={(v) => patch({ log: v })} title="Logarithmic y axis">
            log scale
          </Toggle>
          <Toggle pressed={smooth} onChange={(v) => patch({ smooth: v })} title={`Debiased EMA (α = ${EMA_ALPHA}), computed on every step before downsampling`}>
            smoothed
          </Toggle>
        </>
      }
    >
      <div ref={ref} className="min-h-[340px]">
        {q.error && !data ? (
          <ErrorState error={q.error} what="per-step series" />
        ) : !data && !readable ? (
          <Loading what={run ? 'the first live rows of the running run' : `run ${runId} to start (waiting for its job)`} />
        ) : !data ? (
          <Loading what="per-step series" />
        ) : (
          <>
            <TimeChart
              id="mse-chart"
              ariaLabel="Mean squared prediction error per step, baseline versus adaptive"
              x={data.x}
              series={series}
              log={view.log}
              height={300}
              xLabel="step t"
              yLabel="MSE"
              xRange={xRange}
              markers={marks}
              thresholds={muLines}
              gap={[reference.column === 'frozen_mse' && reference.frozenLabel ? 'frozen' : 'baseline', 'adaptive']}
              onZoom={onZoom}
              onResetZoom={onReset}
              onMarkerPick={onMarker}
              bucket={data.bucket}
              fetching={q.isFetching}
              exportName={`mse_${sessionId}_${runId}`}
              exportExtra={
                <a className="h-6 rounded border border-zinc-800 px-1.5 text-[11px] leading-6 text-zinc-400 hover:border-zinc-600 hover:text-zinc-100" href={perStepCsvUrl(sessionId, runId)} download>
                  full CSV
                </a>
              }
              dataAttrs={{ bucket: data.bucket, total: data.total, rows: rowsInView, smooth, live: data.live, start: q.data?.start, end: q.data?.end, reference: reference.kind, 'oracle-zero': oracleZero, 'mu-jump': muLines[0]?.value }}
            />
            <div className="mt-2 flex flex-wrap items-center gap-x-3 gap-y-1 text-[11px] text-zinc-400" data-testid="timeline-totals">
              <span className="font-medium text-zinc-300">Update transactions</span>
              {shown.map((s) => (
                <span key={s} className="flex items-center gap-1" data-status={s} data-count={totals[s]}>
                  <StatusGlyph status={s} />
                  <span className="font-mono text-zinc-200">{fmtInt(totals[s])}</span> {statusStyle(s).short === 'commit' ? 'commits' : `${statusStyle(s).short} rollbacks`}
                </span>
              ))}
              {shown.length === 0 && <span>none yet</span>}
              {inView !== undefined && (zoom || view.status.length > 0) && <span className="text-zinc-500">· {fmtInt(inView)} attempts in the window</span>}
              <span className="ml-auto text-zinc-500">
                {data.bucket > 1 ? 'one node per status per bucket · ' : ''}click a node for details
              </span>
            </div>
            <TimeChart
              id="tx-timeline"
              variant="timeline"
              ariaLabel={`Update transaction timeline: ${inView ?? marks.length} attempts in view`}
              x={data.x.length ? [data.x[0], data.x[data.x.length - 1]] : []}
              series={[{ key: 'lane', label: 'lane', color: '#000', values: data.x.length ? [null, null] : [], legend: false, tooltip: false }]}
              height={36}
              xRange={xRange ?? (data.x.length ? [data.x[0], data.x[data.x.length - 1]] : null)}
              markers={marks}
              onZoom={onZoom}
              onResetZoom={onReset}
              onMarkerPick={onMarker}
            />
          </>
        )}
      </div>
    </Card>
  )
}
