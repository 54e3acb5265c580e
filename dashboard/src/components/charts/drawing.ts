/** Canvas drawing helpers used as uPlot hooks: learning-gap fill, update markers, thresholds. */
import type uPlot from 'uplot'
import { lowerBound } from '@/lib/downsample'
import { STATUS_ORDER, drawMarker, statusStyle } from '@/lib/status'
import type { UpdateMark } from '@/api/types'

const MARKER_LANE = 9 // CSS px from the plot top to the marker centre

/**
 * Shades the area between an upper (baseline) and a lower (adaptive) series: cyan where the
 * adaptive model is better, red where it is worse. Segments crossing each other are split
 * at the crossing so the colours never bleed.
 */
export function drawGap(u: uPlot, upperIdx: number, lowerIdx: number, good: string, bad: string): void {
  const xs = u.data[0]
  const a = u.data[upperIdx] as (number | null)[]
  const b = u.data[lowerIdx] as (number | null)[]
  if (!a || !b || !u.series[upperIdx]?.show || !u.series[lowerIdx]?.show) return
  const ctx = u.ctx
  const { left, top, width, height } = u.bbox
  const pos = new Path2D()
  const neg = new Path2D()
  const X = (i: number) => u.valToPos(xs[i], 'x', true)
  const Y = (v: number) => u.valToPos(v, 'y', true)
  for (let i = 0; i < xs.length - 1; i++) {
    const a0 = a[i], a1 = a[i + 1], b0 = b[i], b1 = b[i + 1]
    if (a0 == null || a1 == null || b0 == null || b1 == null) continue
    const x0 = X(i), x1 = X(i + 1)
    if (x1 < left || x0 > left + width) continue
    const ya0 = Y(a0), ya1 = Y(a1), yb0 = Y(b0), yb1 = Y(b1)
    const d0 = a0 - b0, d1 = a1 - b1
    if (d0 * d1 >= 0) {
      const p = d0 + d1 >= 0 ? pos : neg
      p.moveTo(x0, ya0); p.lineTo(x1, ya1); p.lineTo(x1, yb1); p.lineTo(x0, yb0); p.closePath()
    } else {
      // crossing inside the segment, in pixel space
      const da0 = ya0 - yb0, da1 = ya1 - yb1
      const f = da0 / (da0 - da1)
      const xc = x0 + f * (x1 - x0)
      const yc = ya0 + f * (ya1 - ya0)
      const p0 = d0 > 0 ? pos : neg
      const p1 = d0 > 0 ? neg : pos
      p0.moveTo(x0, ya0); p0.lineTo(xc, yc); p0.lineTo(x0, yb0); p0.closePath()
      p1.moveTo(xc, yc); p1.lineTo(x1, ya1); p1.lineTo(x1, yb1); p1.closePath()
    }
  }
  ctx.save()
  ctx.beginPath()
  ctx.rect(left, top, width, height)
  ctx.clip()
  ctx.fillStyle = good
  ctx.fill(pos)
  ctx.fillStyle = bad
  ctx.fill(neg)
  ctx.restore()
}

/**
 * Update markers in a lane along the top of the plot, one shape per status, at most one
 * marker per pixel column and status (30,000 events draw in a few ms). Rollbacks are drawn
 * last so they stay visible among commits, with a faint guide line when few are in view.
 */
export function drawMarkers(
  u: uPlot,
  marks: UpdateMark[] | undefined,
  xMin: number,
  xMax: number,
  lane: 'top' | 'center' = 'top',
): number {
  if (!marks || marks.length === 0) return 0
  const ctx = u.ctx
  const dpr = devicePixelRatio || 1
  const { left, top, width, height } = u.bbox
  const ts = marks.map((m) => m.t)
  const i0 = lowerBound(ts, xMin)
  const i1 = lowerBound(ts, xMax + 1e-9)
  const inView = i1 - i0
  const center = lane === 'center'
  const y = center ? top + height / 2 : top + MARKER_LANE * dpr
  const r = (center ? 4.5 : 3.2) * dpr
  ctx.save()
  ctx.beginPath()
  ctx.rect(left, top, width, height)
  ctx.clip()
  const guides = !center && inView <= 400
  if (center && inView > 0) {
    // the "commit history" line connecting consecutive attempts
    ctx.strokeStyle = 'rgba(161,161,170,0.35)'
    ctx.lineWidth = dpr
    ctx.beginPath()
    ctx.moveTo(u.valToPos(marks[i0].t, 'x', true), y)
    ctx.lineTo(u.valToPos(marks[i1 - 1].t, 'x', true), y)
    ctx.stroke()
  }
  for (const status of STATUS_ORDER) {
    const st = statusStyle(status)
    const seen = new Set<number>()
    ctx.fillStyle = st.color
    ctx.strokeStyle = st.color
    for (let i = i0; i < i1; i++) {
      const m = marks[i]
      if (m.status !== status) continue
      const x = Math.round(u.valToPos(m.t, 'x', true))
      const col = Math.round(x / dpr)
      if (seen.has(col)) continue
      seen.add(col)
      if (guides && st.rollback) {
        ctx.globalAlpha = 0.18
        ctx.fillRect(x, y + r, Math.max(1, dpr), height - MARKER_LANE * dpr - r)
        ctx.globalAlpha = 1
      }
      drawMarker(ctx, st.shape, x, y, r)
    }
  }
  // unknown statuses
  ctx.fillStyle = '#a1a1aa'
  for (let i = i0; i < i1; i++) {
    const m = marks[i]
    if ((STATUS_ORDER as readonly string[]).includes(m.status)) continue
    drawMarker(ctx, 'circle', u.valToPos(m.t, 'x', true), y, r * 0.7)
  }
  ctx.restore()
  return inView
}

export interface ThresholdLine {
  value: number
  label: string
  color: string
  scale?: string
  /** 'x': a vertical line at x = value (an event in time, e.g. a μ jump); default 'y' */
  axis?: 'x' | 'y'
}

export function drawThresholds(u: uPlot, lines: ThresholdLine[] | undefined): void {
  if (!lines?.length) return
  const ctx = u.ctx
  const dpr = devicePixelRatio || 1
  const { left, top, width, height } = u.bbox
  ctx.save()
  ctx.font = `${10 * dpr}px ui-sans-serif, system-ui, sans-serif`
  ctx.setLineDash([6 * dpr, 4 * dpr])
  ctx.lineWidth = dpr
  for (const l of lines) {
    if (!Number.isFinite(l.value)) continue
    if (l.axis === 'x') {
      const x = u.valToPos(l.value, 'x', true)
      if (x < left || x > left + width) continue
      ctx.strokeStyle = l.color
      ctx.beginPath()
      ctx.moveTo(x, top)
      ctx.lineTo(x, top + height)
      ctx.stroke()
      ctx.fillStyle = l.color
      ctx.textAlign = x > left + width / 2 ? 'right' : 'left'
      ctx.fillText(l.label, x + (x > left + width / 2 ? -4 : 4) * dpr, top + height - 4 * dpr)
      continue
    }
    const y = u.valToPos(l.value, l.scale ?? 'y', true)
    if (y < top || y > top + height) continue
    ctx.strokeStyle = l.color
    ctx.beginPath()
    ctx.moveTo(left, y)
    ctx.lineTo(left + width, y)
    ctx.stroke()
    ctx.fillStyle = l.color
    ctx.textAlign = 'right'
    ctx.fillText(l.label, left + width - 4 * dpr, y - 3 * dpr)
  }
  ctx.restore()
}

/** Nearest marker to pixel x (CSS px within the plot), within `tol` px. */
export function markerAt(u: uPlot, marks: UpdateMark[] | undefined, cssX: number, tol = 6): UpdateMark | null {
  if (!marks?.length) return null
  const t = u.posToVal(cssX, 'x')
  const ts = marks.map((m) => m.t)
  const i = lowerBound(ts, t)
  let best: UpdateMark | null = null
  let bestD = Infinity
  for (const j of [i - 2, i - 1, i, i + 1]) {
    const m = marks[j]
    if (!m) continue
    const d = Math.abs(u.valToPos(m.t, 'x') - cssX)
    // prefer rollbacks when equally close: they are the interesting ones
    const bias = statusStyle(m.status).rollback ? -0.5 : 0
    if (d <= tol && d + bias < bestD) {
      best = m
      bestD = d + bias
    }
  }
  return best
}
