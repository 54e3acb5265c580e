/**
 * Canvas time-series chart on uPlot.
 *
 * Why uPlot and not an SVG chart library (Recharts, Victory, nivo): those create one DOM node
 * per point and re-render through React on every mouse move, which cannot keep a 1,000,000-step
 * run with 30,000 update markers interactive. uPlot draws to one canvas (~50 KB, thousands of
 * points in a few ms), and its cursor/tooltip updates touch no React state here: hover writes
 * to the global cursor store, which other views read imperatively.
 *
 * Features: min/max bands from server buckets, faint raw + bold smoothed lines, shaded learning
 * gap between two series, update markers by shape and colour, threshold lines, hover tooltip
 * with every value, drag-to-zoom (reported to the caller, who refetches the exact window),
 * double-click to reset, shared global cursor, legend toggles, PNG/SVG/CSV export, and data-*
 * attributes plus a hidden summary table so tests assert on data rather than pixels.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react'
import uPlot from 'uplot'
import type { UpdateMark } from '@/api/types'
import { toCsv } from '@/lib/csv'
import { fmtInt, fmtNum } from '@/lib/format'
import { logRange } from '@/lib/scales'
import { statusStyle } from '@/lib/status'
import { chartToSvg } from '@/lib/svg'
import { useCursor } from '@/stores/cursor'
import { downloadCanvasPng, downloadText, safeName } from './download'
import { drawGap, drawMarkers, drawThresholds, markerAt, type ThresholdLine } from './drawing'
import { ExportMenu } from './ExportMenu'
import { hexToRgba, xAxis, yAxis } from './uplotTheme'

export interface ChartSeries {
  key: string
  label: string
  color: string
  values: ArrayLike<number | null>
  width?: number
  dash?: number[]
  /** stroke opacity (faint raw line under a smoothed one) */
  alpha?: number
  /** min/max band drawn behind the line */
  band?: { min: ArrayLike<number | null>; max: ArrayLike<number | null>; alpha?: number }
  /** draw dots at the data points (sparse series) */
  points?: boolean
  /** initially hidden; legend toggles it */
  hidden?: boolean
  /** shown in the legend (default true) */
  legend?: boolean
  /** shown in the tooltip (default true) */
  tooltip?: boolean
  /** 'y' (default) or 'y2' for a right-hand axis */
  scale?: 'y' | 'y2'
  step?: boolean
  /** connect across missing points (overlays of series sampled at different x) */
  spanGaps?: boolean
}

export interface TimeChartProps {
  id: string
  ariaLabel: string
  x: ArrayLike<number>
  series: ChartSeries[]
  height?: number
  log?: boolean
  xLabel?: string
  yLabel?: string
  y2Label?: string
  /** fixed x window (zoom); data outside is clipped */
  xRange?: [number, number] | null
  /** fixed y range (rates in [0, 1]); default: fitted to the data (linear axis only) */
  yRange?: [number, number]
  markers?: UpdateMark[]
  /** shade between these two series keys: [upper(baseline), lower(adaptive)] */
  gap?: [string, string]
  thresholds?: ThresholdLine[]
  onZoom?: (from: number, to: number) => void
  onResetZoom?: () => void
  onPick?: (t: number) => void
  onMarkerPick?: (m: UpdateMark) => void
  /** extra tooltip lines for a time t (plain text) */
  tooltipExtra?: (t: number) => string[]
  exportName?: string
  exportExtra?: ReactNode
  /** bucket size of the data (shown in the tooltip; 1 = exact) */
  bucket?: number
  fetching?: boolean
  dataAttrs?: Record<string, string | number | boolean | null | undefined>
  /** reserve a right-hand axis gutter so x aligns with charts that have one */
  alignY2?: boolean
  /** participate in the global cursor (default true) */
  syncCursor?: boolean
  /** x values are integers (steps, chunks): zoom, cursor and ticks snap to whole numbers */
  integerX?: boolean
  /** 'timeline': a marker strip aligned with the charts above it (no legend, no y axis) */
  variant?: 'chart' | 'timeline'
}

interface Built {
  /** uPlot series index of each ChartSeries line */
  lineIdx: number[]
  /** per ChartSeries: [minIdx, maxIdx] of its band, if any */
  bandIdx: ([number, number] | null)[]
}

const toData = (v: ArrayLike<number | null>, log: boolean): (number | null)[] => {
  const out = new Array<number | null>(v.length)
  for (let i = 0; i < v.length; i++) {
    const x = v[i]
    out[i] = x === null || !Number.isFinite(x) || (log && x <= 0) ? null : x
  }
  return out
}

/** "adaptive (TTT) vs baseline (...)" from the two series of a gap. */
const gapLabel = (series: ChartSeries[], gap: [string, string]) =>
  `${series.find((s) => s.key === gap[1])?.label ?? gap[1]} vs ${series.find((s) => s.key === gap[0])?.label ?? gap[0]}`

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function TimeChart(props: TimeChartProps) {
  const {
    id, ariaLabel, x, series, height = 260, log = false, xLabel, yLabel, y2Label, xRange, markers,
    gap, thresholds, exportName, exportExtra, fetching, dataAttrs, syncCursor = true,
    integerX = true, variant = 'chart',
  } = props
  const isTimeline = variant === 'timeline'
  const wrapRef = useRef<HTMLDivElement>(null)
  const plotRef = useRef<HTMLDivElement>(null)
  const uRef = useRef<uPlot | null>(null)
  const builtRef = useRef<Built>({ lineIdx: [], bandIdx: [] })
  const tipRef = useRef<HTMLDivElement | null>(null)
  const pinLineRef = useRef<HTMLDivElement | null>(null)
  const hoverLineRef = useRef<HTMLDivElement | null>(null)
  // Latest props for hooks created once per chart instance.
  const live = useRef(props)
  live.current = props
  const [hidden, setHidden] = useState<Set<string>>(() => new Set(series.filter((s) => s.hidden).map((s) => s.key)))
  const hiddenRef = useRef(hidden)
  hiddenRef.current = hidden

  const hasY2 = series.some((s) => s.scale === 'y2')
  // Structure changes rebuild the chart; data changes only call setData.
  const structure = useMemo(
    () =>
      JSON.stringify([
        log, hasY2, xLabel, yLabel, y2Label, height, gap, variant, integerX,
        series.map((s) => [s.key, s.color, s.width, s.dash, s.alpha, !!s.band, s.band?.alpha, s.points, s.scale, s.step]),
      ]),
    [log, hasY2, xLabel, yLabel, y2Label, height, gap, series, variant, integerX],
  )

  const data = useMemo(() => {
    const d: (number | null)[][] = [Array.from(x)]
    for (const s of series) {
      if (s.band) {
        d.push(toData(s.band.min, log))
        d.push(toData(s.band.max, log))
      }
      d.push(toData(s.values, log))
    }
    return d as uPlot.AlignedData
  }, [x, series, log])
  const dataRef = useRef(data)
  dataRef.current = data

  // Build / rebuild.
  useLayoutEffect(() => {
    const el = plotRef.current
    if (!el) return
    const uSeries: uPlot.Series[] = [{ label: 't' }]
    const bands: uPlot.Band[] = []
    const lineIdx: number[] = []
    const bandIdx: ([number, number] | null)[] = []
    for (const s of series) {
      const scale = s.scale ?? 'y'
      const show = !hiddenRef.current.has(s.key)
      if (s.band) {
        const mn = uSeries.length
        uSeries.push({ label: `${s.label} min`, scale, stroke: 'transparent', width: 0, points: { show: false }, show })
        uSeries.push({ label: `${s.label} max`, scale, stroke: 'transparent', width: 0, points: { show: false }, show })
        bands.push({ series: [mn + 1, mn], fill: hexToRgba(s.color, s.band.alpha ?? 0.16) })
        bandIdx.push([mn, mn + 1])
      } else bandIdx.push(null)
      lineIdx.push(uSeries.length)
      uSeries.push({
        label: s.label,
        scale,
        show,
        stroke: s.alpha !== undefined ? hexToRgba(s.color, s.alpha) : s.color,
        width: s.width ?? 1.5,
        dash: s.dash,
        spanGaps: !!s.spanGaps,
        paths: s.step ? uPlot.paths.stepped?.({ align: 1 }) : undefined,
        points: s.points
          ? { show: true, size: 5, fill: s.color, stroke: s.color }
          : { show: false },
      })
    }
    builtRef.current = { lineIdx, bandIdx }
    const yScale: uPlot.Scale = isTimeline
      ? { auto: false, range: [0, 1] }
      : log
      ? {
          distr: 3,
          log: 10,
          // fit the data instead of snapping to whole decades (see logRange for the rules)
          range: (_u, mn, mx) => logRange(mn, mx),
        }
      : { auto: true, range: (_u, mn, mx) => live.current.yRange ?? uPlot.rangeNum(mn, mx, 0.1, true) }
    const width = Math.max(200, el.clientWidth)
    const opts: uPlot.Options = {
      width,
      height,
      series: uSeries,
      bands,
      legend: { show: false },
      padding: [16, 8, 0, 0],
      scales: {
        x: {
          time: false,
          auto: true,
          range: (_u, mn, mx) => {
            const r = live.current.xRange
            if (r) return [r[0], r[1]]
            return mn === mx ? [mn - 1, mx + 1] : [mn, mx]
          },
        },
        y: yScale,
        ...(hasY2 ? { y2: { auto: true } } : {}),
      },
      axes: isTimeline
        ? [
            { ...xAxis(), show: false },
            { ...yAxis(), stroke: 'transparent', grid: { show: false }, ticks: { show: false }, values: () => [] },
            ...(live.current.alignY2 ? [{ ...yAxis(undefined, 'y', 1), stroke: 'transparent', grid: { show: false }, ticks: { show: false }, values: () => [] }] : []),
          ]
        : [
            xAxis(xLabel, integerX),
            yAxis(yLabel, 'y', 3, log),
            ...(hasY2
              ? [yAxis(y2Label, 'y2', 1)]
              : live.current.alignY2
                ? [{ ...yAxis(undefined, 'y', 1), stroke: 'transparent', grid: { show: false }, ticks: { show: false }, values: () => [] }]
                : []),
          ],
      cursor: {
        drag: { x: true, y: false, setScale: false },
        points: { size: 6, width: 1.5 },
        bind: {
          dblclick: () => () => {
            live.current.onResetZoom?.()
            return null
          },
        },
      },
      hooks: {
        drawClear: [
          (u) => {
            const g = live.current.gap
            if (!g) return
            const keys = live.current.series.map((s) => s.key)
            const ui = builtRef.current.lineIdx[keys.indexOf(g[0])]
            const li = builtRef.current.lineIdx[keys.indexOf(g[1])]
            if (ui && li) drawGap(u, ui, li, 'rgba(34,211,238,0.14)', 'rgba(248,113,113,0.16)')
          },
        ],
        draw: [
          (u) => {
            drawThresholds(u, live.current.thresholds)
            const n = drawMarkers(
              u,
              live.current.markers,
              u.scales.x.min ?? -Infinity,
              u.scales.x.max ?? Infinity,
              live.current.variant === 'timeline' ? 'center' : 'top',
            )
            const w = wrapRef.current
            if (w) {
              w.dataset.markersInView = String(n)
              w.dataset.scaleMin = String(u.scales.x.min)
              w.dataset.scaleMax = String(u.scales.x.max)
            }
            placeLines()
          },
        ],
        setSelect: [
          (u) => {
            const sel = u.select
            if (sel.width > 4) {
              const a = u.posToVal(sel.left, 'x')
              const b = u.posToVal(sel.left + sel.width, 'x')
              const from = integerX ? Math.floor(a) : a
              const to = integerX ? Math.ceil(b) : b
              if (to > from) live.current.onZoom?.(from, to)
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false)
          },
        ],
        setCursor: [(u) => onCursor(u)],
        setSize: [() => placeLines()],
      },
    }
    const u = new uPlot(opts, dataRef.current, el)
    uRef.current = u
    // overlay elements live inside u.over so they share its coordinate system
    const tip = document.createElement('div')
    tip.className =
      'pointer-events-none absolute z-20 hidden min-w-[170px] rounded-md border border-zinc-700 bg-zinc-950/95 px-2 py-1.5 text-[11px] leading-[1.35] text-zinc-200 shadow-xl'
    tip.setAttribute('role', 'presentation')
    u.over.appendChild(tip)
    tipRef.current = tip
    const pin = document.createElement('div')
    pin.className = 'pointer-events-none absolute top-0 hidden h-full w-px bg-amber-400/80'
    pin.dataset.cursor = 'pinned'
    u.over.appendChild(pin)
    pinLineRef.current = pin
    const hov = document.createElement('div')
    hov.className = 'pointer-events-none absolute top-0 hidden h-full border-l border-dashed border-zinc-300/60'
    hov.dataset.cursor = 'linked'
    u.over.appendChild(hov)
    hoverLineRef.current = hov
    placeLines()

    // click: pin the cursor or open the marker under the pointer
    let downX = 0
    const onDown = (e: MouseEvent) => (downX = e.clientX)
    const onClick = (e: MouseEvent) => {
      if (Math.abs(e.clientX - downX) > 3) return
      const rect = u.over.getBoundingClientRect()
      const cx = e.clientX - rect.left
      const cy = e.clientY - rect.top
      const lane = live.current.variant === 'timeline' || cy < 20
      if (lane && live.current.onMarkerPick) {
        const m = markerAt(u, live.current.markers, cx, live.current.variant === 'timeline' ? 8 : 6)
        if (m) {
          live.current.onMarkerPick(m)
          return
        }
      }
      const t = u.posToVal(cx, 'x')
      const tt = integerX ? Math.round(t) : t
      if (live.current.onPick) live.current.onPick(tt)
      else if (live.current.syncCursor !== false) useCursor.getState().setPinned(tt)
    }
    u.over.addEventListener('mousedown', onDown)
    u.over.addEventListener('click', onClick)
    return () => {
      u.over.removeEventListener('mousedown', onDown)
      u.over.removeEventListener('click', onClick)
      u.destroy()
      uRef.current = null
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [structure])

  // New data → setData (keeps the instance, no flicker).
  useEffect(() => {
    const u = uRef.current
    if (!u) return
    u.setData(data, true)
  }, [data])

  // Zoom window change → rescale at once (old data stays visible until the new window loads).
  useEffect(() => {
    const u = uRef.current
    if (!u) return
    if (xRange) u.setScale('x', { min: xRange[0], max: xRange[1] })
    else u.setData(dataRef.current, true)
  }, [xRange?.[0], xRange?.[1]]) // eslint-disable-line react-hooks/exhaustive-deps

  // Markers / thresholds are read in the draw hook: just redraw.
  useEffect(() => {
    uRef.current?.redraw(false)
  }, [markers, thresholds])

  // Resize with the container.
  useEffect(() => {
    const el = wrapRef.current
    if (!el) return
    let raf = 0
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(raf)
      raf = requestAnimationFrame(() => {
        const u = uRef.current
        const w = plotRef.current?.clientWidth ?? 0
        if (u && w > 0 && Math.abs(u.width - w) > 1) u.setSize({ width: w, height: u.height })
      })
    })
    ro.observe(el)
    return () => {
      cancelAnimationFrame(raf)
      ro.disconnect()
    }
  }, [])

  // Global cursor → overlay lines (imperative; no re-render).
  useEffect(() => {
    if (!syncCursor) return
    return useCursor.subscribe(() => placeLines())
  }, [syncCursor])

  // Legend visibility → uPlot series.
  useEffect(() => {
    const u = uRef.current
    if (!u) return
    const { lineIdx, bandIdx } = builtRef.current
    series.forEach((s, i) => {
      const show = !hidden.has(s.key)
      if (lineIdx[i] && u.series[lineIdx[i]].show !== show) u.setSeries(lineIdx[i], { show })
      const b = bandIdx[i]
      if (b) for (const j of b) if (u.series[j].show !== show) u.setSeries(j, { show })
    })
  }, [hidden, series, structure])

  function placeLines() {
    const u = uRef.current
    if (!u) return
    const st = useCursor.getState()
    const place = (el: HTMLDivElement | null, t: number | null) => {
      if (!el) return
      if (t === null) {
        el.classList.add('hidden')
        return
      }
      const mn = u.scales.x.min ?? 0
      const mx = u.scales.x.max ?? 0
      if (t < mn || t > mx) {
        el.classList.add('hidden')
        return
      }
      el.style.left = `${u.valToPos(t, 'x')}px`
      el.classList.remove('hidden')
    }
    if (live.current.syncCursor === false) return
    place(pinLineRef.current, st.pinned)
    // linked hover line only when another view is hovered
    place(hoverLineRef.current, st.source !== id ? st.hover : null)
  }

  function onCursor(u: uPlot) {
    const left = u.cursor.left ?? -1
    const tip = tipRef.current
    if (left < 0 || u.cursor.idx == null) {
      if (tip) tip.classList.add('hidden')
      if (live.current.syncCursor !== false && useCursor.getState().source === id) useCursor.getState().setHover(null, id)
      return
    }
    const tRaw = u.posToVal(left, 'x')
    const t = live.current.integerX === false ? tRaw : Math.round(tRaw)
    if (live.current.syncCursor !== false) useCursor.getState().setHover(t, id)
    if (tip) renderTip(u, tip, u.cursor.idx, left, u.cursor.top ?? 0)
  }

  function renderTip(u: uPlot, tip: HTMLDivElement, idx: number, left: number, top: number) {
    const p = live.current
    const { lineIdx, bandIdx } = builtRef.current
    const xv = u.data[0][idx]
    const bk = p.bucket ?? 1
    const rows: string[] = []
    // a chart with no tooltip series (the timeline lane) has only its two end points: name the
    // time under the pointer instead of the nearest data point
    const laneOnly = p.series.every((s) => s.tooltip === false)
    const head = laneOnly
      ? `t ${fmtInt(Math.round(u.posToVal(left, 'x')))}`
      : bk > 1
        ? `t ${fmtInt(xv)}–${fmtInt(xv + bk - 1)} <span class="text-zinc-500">(${fmtInt(bk)} steps)</span>`
        : `t ${p.integerX === false ? fmtNum(xv) : fmtInt(xv)}`
    rows.push(`<div class="mb-0.5 font-semibold text-zinc-100">${head}</div>`)
    p.series.forEach((s, i) => {
      if (s.tooltip === false || hiddenRef.current.has(s.key)) return
      const v = u.data[lineIdx[i]]?.[idx]
      const b = bandIdx[i]
      let range = ''
      if (b && bk > 1) {
        const mn = u.data[b[0]][idx]
        const mx = u.data[b[1]][idx]
        if (mn != null && mx != null) range = ` <span class="text-zinc-500">[${fmtNum(mn, 3)} … ${fmtNum(mx, 3)}]</span>`
      }
      rows.push(
        `<div class="flex items-center gap-1.5"><span style="background:${s.color}" class="inline-block h-0.5 w-3"></span><span class="text-zinc-400">${esc(s.label)}</span><span class="ml-auto pl-3 font-mono">${fmtNum(v ?? null)}</span>${range}</div>`,
      )
    })
    if (p.gap) {
      const keys = p.series.map((s) => s.key)
      const a = u.data[lineIdx[keys.indexOf(p.gap[0])]]?.[idx]
      const b = u.data[lineIdx[keys.indexOf(p.gap[1])]]?.[idx]
      if (a != null && b != null && a !== 0) {
        const g = (a - b) / a
        rows.push(
          `<div class="mt-0.5 text-zinc-400">gap <span class="font-mono ${g >= 0 ? 'text-cyan-300' : 'text-red-300'}">${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%</span> <span class="text-zinc-500">(${esc(gapLabel(p.series, p.gap))})</span></div>`,
        )
      }
    }
    if (p.markers?.length) {
      const m = markerAt(u, p.markers, left, 5)
      if (m) {
        const st = statusStyle(m.status)
        rows.push(`<div class="mt-0.5" style="color:${st.color}">${st.glyph} ${esc(st.label)} @ t ${fmtInt(m.t)}</div>`)
      }
    }
    for (const line of p.tooltipExtra?.(xv) ?? []) rows.push(`<div class="text-zinc-400">${esc(line)}</div>`)
    tip.innerHTML = rows.join('')
    tip.classList.remove('hidden')
    const w = tip.offsetWidth
    const h = tip.offsetHeight
    const ow = u.over.clientWidth
    const oh = u.over.clientHeight
    const lx = left + 14 + w > ow ? left - w - 14 : left + 14
    const ly = Math.min(Math.max(0, top - h / 2), Math.max(0, oh - h))
    tip.style.transform = `translate(${Math.round(lx)}px, ${Math.round(ly)}px)`
  }

  // Exports
  const name = safeName(exportName ?? id)
  const exportPng = () => {
    const u = uRef.current
    if (u) downloadCanvasPng(`${name}.png`, u.ctx.canvas)
  }
  const exportSvg = () => {
    const u = uRef.current
    const svg = chartToSvg({
      title: ariaLabel,
      x: Array.from(x),
      series: series
        .filter((s) => !hidden.has(s.key))
        .map((s) => ({ label: s.label, color: s.color, values: s.values, dash: s.dash, width: s.width })),
      log,
      width: u?.width ?? 960,
      height: height,
      markers: markers ? { t: markers.map((m) => m.t), status: markers.map((m) => m.status) } : undefined,
    })
    downloadText(`${name}.svg`, svg, 'image/svg+xml')
  }
  const exportCsv = () => {
    const cols: Record<string, ArrayLike<number | null>> = { t: x }
    for (const s of series) {
      cols[s.key] = s.values
      if (s.band) {
        cols[`${s.key}_min`] = s.band.min
        cols[`${s.key}_max`] = s.band.max
      }
    }
    downloadText(`${name}.csv`, toCsv(cols), 'text/csv')
  }

  const n = x.length
  const attrs: Record<string, string> = {
    'data-chart': 'time',
    'data-testid': id,
    'data-points': String(n),
    'data-x0': n ? String(x[0]) : '',
    'data-x1': n ? String(x[n - 1]) : '',
    'data-series': series.map((s) => s.key).join(','),
    'data-markers': String(markers?.length ?? 0),
    'data-log': String(log),
    'data-ready': String(n > 0 && !fetching),
  }
  for (const [k, v] of Object.entries(dataAttrs ?? {})) if (v !== undefined && v !== null) attrs[`data-${k}`] = String(v)

  const legendItems = series.filter((s) => s.legend !== false)
  return (
    <div ref={wrapRef} className="relative" {...attrs}>
      <div className={isTimeline ? 'hidden' : 'mb-1 flex flex-wrap items-center gap-x-2 gap-y-1'}>
        <div role="group" aria-label="Series" className="flex flex-wrap items-center gap-1">
          {legendItems.map((s) => {
            const on = !hidden.has(s.key)
            return (
              <button
                key={s.key}
                type="button"
                aria-pressed={on}
                onClick={() =>
                  setHidden((h) => {
                    const nh = new Set(h)
                    if (nh.has(s.key)) nh.delete(s.key)
                    else nh.add(s.key)
                    return nh
                  })
                }
                className={`flex h-6 items-center gap-1.5 rounded px-1.5 text-[11px] ${on ? 'text-zinc-200' : 'text-zinc-500 line-through'} hover:bg-zinc-800/70`}
              >
                <svg aria-hidden="true" width="16" height="6">
                  <line x1="0" x2="16" y1="3" y2="3" stroke={s.color} strokeWidth={2} strokeDasharray={s.dash?.join(' ')} opacity={s.alpha ?? 1} />
                </svg>
                {s.label}
              </button>
            )
          })}
        </div>
        <div className="ml-auto flex items-center gap-2">
          {fetching && (
            <span role="status" className="text-[11px] text-zinc-500">
              loading…
            </span>
          )}
          <ExportMenu label={ariaLabel} onPng={exportPng} onSvg={exportSvg} onCsv={exportCsv} extra={exportExtra} />
        </div>
      </div>
      <div
        ref={plotRef}
        role="img"
        aria-label={ariaLabel}
        aria-describedby={`${id}-summary`}
        className="relative w-full"
        style={{ height }}
      />
      <ChartSummary id={`${id}-summary`} caption={ariaLabel} x={x} series={series} markers={markers} />
    </div>
  )
}

/** Visually hidden table: per-series extent and last value, and marker counts. */
function ChartSummary({
  id, caption, x, series, markers,
}: { id: string; caption: string; x: ArrayLike<number>; series: ChartSeries[]; markers?: UpdateMark[] }) {
  const rows = series.map((s) => {
    let mn = Infinity
    let mx = -Infinity
    let last: number | null = null
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]
      if (v === null || !Number.isFinite(v)) continue
      if (v < mn) mn = v
      if (v > mx) mx = v
      last = v
    }
    return { key: s.key, label: s.label, mn, mx, last }
  })
  const counts: Record<string, number> = {}
  for (const m of markers ?? []) counts[m.status] = (counts[m.status] ?? 0) + 1
  return (
    // sr-only on a wrapper: a <table> ignores width: 1px and would widen the page
    <div className="sr-only">
    <table id={id} data-summary="">
      <caption>
        {caption}: {x.length} points from {x.length ? fmtInt(x[0]) : '—'} to {x.length ? fmtInt(x[x.length - 1]) : '—'}
      </caption>
      <thead>
        <tr>
          <th scope="col">series</th>
          <th scope="col">min</th>
          <th scope="col">max</th>
          <th scope="col">last</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} data-series={r.key}>
            <th scope="row">{r.label}</th>
            <td data-min={Number.isFinite(r.mn) ? r.mn : ''}>{fmtNum(Number.isFinite(r.mn) ? r.mn : null)}</td>
            <td data-max={Number.isFinite(r.mx) ? r.mx : ''}>{fmtNum(Number.isFinite(r.mx) ? r.mx : null)}</td>
            <td data-last={r.last ?? ''}>{fmtNum(r.last)}</td>
          </tr>
        ))}
        {Object.entries(counts).map(([st, c]) => (
          <tr key={st} data-status={st} data-count={c}>
            <th scope="row">{statusStyle(st).label} markers</th>
            <td colSpan={3}>{c}</td>
          </tr>
        ))}
      </tbody>
    </table>
    </div>
  )
}
