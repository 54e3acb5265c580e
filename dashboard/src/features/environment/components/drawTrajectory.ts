/** Canvas drawing for the 2-D trajectory view (static layer + cursor overlay). */
import type { Trajectory } from '@/api/types'
import { rgbCss, timeColor } from '@/lib/colormap'

export interface Frame {
  /** data → CSS px */
  px: (x: number) => number
  py: (y: number) => number
  scale: number
}

export interface Layers {
  predictions: boolean
  velocity: boolean
  actions: boolean
}

export function fitFrame(points: number[][][], w: number, h: number, pad = 24): Frame {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity
  for (const arr of points)
    for (const p of arr) {
      if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) continue
      x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]); y0 = Math.min(y0, p[1]); y1 = Math.max(y1, p[1])
    }
  if (!Number.isFinite(x0)) { x0 = -1; x1 = 1; y0 = -1; y1 = 1 }
  const dx = Math.max(1e-9, x1 - x0), dy = Math.max(1e-9, y1 - y0)
  const scale = Math.min((w - 2 * pad) / dx, (h - 2 * pad) / dy) // equal aspect: physics stays physics
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2
  return { px: (x) => w / 2 + (x - cx) * scale, py: (y) => h / 2 - (y - cy) * scale, scale }
}

function arrow(ctx: CanvasRenderingContext2D, x: number, y: number, dx: number, dy: number, head = 4) {
  const len = Math.hypot(dx, dy)
  if (len < 1) return
  ctx.beginPath()
  ctx.moveTo(x, y)
  ctx.lineTo(x + dx, y + dy)
  const a = Math.atan2(dy, dx)
  ctx.lineTo(x + dx - head * Math.cos(a - 0.45), y + dy - head * Math.sin(a - 0.45))
  ctx.moveTo(x + dx, y + dy)
  ctx.lineTo(x + dx - head * Math.cos(a + 0.45), y + dy - head * Math.sin(a + 0.45))
  ctx.stroke()
}

function polyline(ctx: CanvasRenderingContext2D, f: Frame, pts: number[][]) {
  ctx.beginPath()
  let pen = false
  for (const p of pts) {
    if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) { pen = false; continue }
    if (pen) ctx.lineTo(f.px(p[0]), f.py(p[1]))
    else ctx.moveTo(f.px(p[0]), f.py(p[1]))
    pen = true
  }
  ctx.stroke()
}

/** Robust arrow scale: the 90th percentile magnitude maps to `target` px. */
export function arrowScale(vs: number[][], i0: number, i1: number, target: number): number {
  const mags: number[] = []
  for (let i = i0; i < i1; i++) if (vs[i]) mags.push(Math.hypot(vs[i][0], vs[i][1]))
  mags.sort((a, b) => a - b)
  const p90 = mags[Math.floor(mags.length * 0.9)] ?? 0
  return p90 > 0 ? target / p90 : 0
}

export function drawStatic(ctx: CanvasRenderingContext2D, tr: Trajectory, f: Frame, L: Layers, ghost: number[][] | null, w: number, h: number) {
  ctx.clearRect(0, 0, w, h)
  const obs = tr.obs
  const n = obs.length
  // faint grid in data units
  ctx.strokeStyle = 'rgba(255,255,255,0.05)'
  ctx.lineWidth = 1
  const stepData = Math.pow(10, Math.floor(Math.log10(Math.max(1e-9, 80 / f.scale))))
  const gridStep = stepData * (80 / f.scale / stepData > 5 ? 5 : 80 / f.scale / stepData > 2 ? 2 : 1)
  ctx.beginPath()
  const xMin = (0 - f.px(0)) / f.scale, xMax = (w - f.px(0)) / f.scale
  for (let gx = Math.ceil(xMin / gridStep) * gridStep; gx <= xMax; gx += gridStep) {
    ctx.moveTo(Math.round(f.px(gx)) + 0.5, 0); ctx.lineTo(Math.round(f.px(gx)) + 0.5, h)
  }
  const yMax = (f.py(0) - 0) / f.scale, yMin = (f.py(0) - h) / f.scale
  for (let gy = Math.ceil(yMin / gridStep) * gridStep; gy <= yMax; gy += gridStep) {
    ctx.moveTo(0, Math.round(f.py(gy)) + 0.5); ctx.lineTo(w, Math.round(f.py(gy)) + 0.5)
  }
  ctx.stroke()
  ctx.fillStyle = 'rgba(161,161,170,0.8)'
  ctx.font = '10px ui-sans-serif, system-ui, sans-serif'
  ctx.fillText(`grid ${gridStep}`, 6, h - 6)

  if (ghost?.length) {
    ctx.strokeStyle = 'rgba(244,244,245,0.75)'
    ctx.setLineDash([2, 3])
    ctx.lineWidth = 1.5
    polyline(ctx, f, ghost)
    ctx.setLineDash([])
  }
  if (L.predictions) {
    ctx.lineWidth = 1
    ctx.setLineDash([5, 4])
    ctx.strokeStyle = 'rgba(161,161,170,0.75)'
    polyline(ctx, f, tr.pred_baseline)
    ctx.strokeStyle = 'rgba(34,211,238,0.85)'
    polyline(ctx, f, tr.pred_adaptive)
    ctx.setLineDash([])
  }
  // truth: solid, coloured by time
  ctx.lineWidth = 1.75
  for (let i = 1; i < n; i++) {
    const a = obs[i - 1], b = obs[i]
    ctx.strokeStyle = rgbCss(timeColor(i / Math.max(1, n - 1)))
    ctx.beginPath()
    ctx.moveTo(f.px(a[0]), f.py(a[1]))
    ctx.lineTo(f.px(b[0]), f.py(b[1]))
    ctx.stroke()
  }
  const every = Math.max(1, Math.floor(n / 28))
  if (L.velocity) {
    const vs = obs.map((o) => [o[2], o[3]])
    const k = arrowScale(vs, 0, n, 22)
    ctx.strokeStyle = 'rgba(228,228,231,0.55)'
    ctx.lineWidth = 1
    for (let i = 0; i < n; i += every) arrow(ctx, f.px(obs[i][0]), f.py(obs[i][1]), vs[i][0] * k, -vs[i][1] * k, 3.5)
  }
  if (L.actions && tr.actions.length) {
    const k = arrowScale(tr.actions, 0, tr.actions.length, 18)
    ctx.strokeStyle = 'rgba(251,191,36,0.8)'
    ctx.lineWidth = 1.25
    for (let i = Math.floor(every / 2); i < n; i += every) {
      const a = tr.actions[i]
      if (a) arrow(ctx, f.px(obs[i][0]), f.py(obs[i][1]), a[0] * k, -a[1] * k, 3.5)
    }
  }
  // start / end
  if (n) {
    ctx.fillStyle = rgbCss(timeColor(0))
    ctx.beginPath(); ctx.arc(f.px(obs[0][0]), f.py(obs[0][1]), 4, 0, Math.PI * 2); ctx.fill()
    ctx.fillStyle = rgbCss(timeColor(1))
    ctx.fillRect(f.px(obs[n - 1][0]) - 4, f.py(obs[n - 1][1]) - 4, 8, 8)
  }
}

/** Current position, a fading trail behind it, and its velocity/action arrows. */
export function drawCursor(ctx: CanvasRenderingContext2D, tr: Trajectory, f: Frame, i: number, trail: number, velK: number) {
  const obs = tr.obs
  const i0 = Math.max(0, i - trail)
  ctx.lineCap = 'round'
  for (let j = i0 + 1; j <= i; j++) {
    const u = (j - i0) / Math.max(1, i - i0)
    ctx.strokeStyle = `rgba(251,191,36,${(0.08 + 0.85 * u * u).toFixed(3)})`
    ctx.lineWidth = 1 + 2.5 * u
    ctx.beginPath()
    ctx.moveTo(f.px(obs[j - 1][0]), f.py(obs[j - 1][1]))
    ctx.lineTo(f.px(obs[j][0]), f.py(obs[j][1]))
    ctx.stroke()
  }
  ctx.lineCap = 'butt'
  const p = obs[i]
  const x = f.px(p[0]), y = f.py(p[1])
  ctx.strokeStyle = '#fbbf24'
  ctx.lineWidth = 1.5
  arrow(ctx, x, y, p[2] * velK, -p[3] * velK, 5)
  ctx.fillStyle = '#09090b'
  ctx.beginPath(); ctx.arc(x, y, 6, 0, Math.PI * 2); ctx.fill()
  ctx.fillStyle = '#fbbf24'
  ctx.beginPath(); ctx.arc(x, y, 4, 0, Math.PI * 2); ctx.fill()
  // predictions made at this step are of the next state: show it (hollow white) beside them
  const next = tr.next_obs?.[i]
  if (!next) return
  ctx.strokeStyle = '#f4f4f5'
  ctx.lineWidth = 1
  ctx.beginPath(); ctx.arc(f.px(next[0]), f.py(next[1]), 5, 0, Math.PI * 2); ctx.stroke()
  const pa = tr.pred_adaptive[i]
  const pb = tr.pred_baseline[i]
  if (pb) { ctx.strokeStyle = '#a1a1aa'; ctx.lineWidth = 1.25; ctx.strokeRect(f.px(pb[0]) - 3, f.py(pb[1]) - 3, 6, 6) }
  if (pa) { ctx.strokeStyle = '#22d3ee'; ctx.beginPath(); ctx.arc(f.px(pa[0]), f.py(pa[1]), 3.5, 0, Math.PI * 2); ctx.stroke() }
}
