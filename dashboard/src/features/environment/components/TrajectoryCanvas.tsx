import { useEffect, useMemo, useRef } from 'react'
import type { Trajectory } from '@/api/types'
import { downloadCanvasPng } from '@/components/charts/download'
import { ExportMenu } from '@/components/charts/ExportMenu'
import { useElementWidth } from '@/hooks/useElementWidth'
import { nearestIndex } from '@/lib/downsample'
import { fmtInt, fmtNum } from '@/lib/format'
import { effectiveT, useCursor } from '@/stores/cursor'
import { mse4 } from '../lib/aligned'
import { arrowScale, drawCursor, drawStatic, fitFrame, type Layers } from './drawTrajectory'

const SOURCE = 'trajectory'

/**
 * The point mass in the plane: time-coloured path (start blue → end red), velocity (white)
 * and action (amber) arrows, predictions (baseline dashed grey, adaptive dashed cyan: each
 * point is a prediction of the *next* position; at the cursor they sit next to the true next
 * state, a hollow white ring), an
 * optional ghost under another μ (dotted), and the cursor with a fading trail. Hovering
 * moves the global cursor, so the MSE and series charts follow — and vice versa.
 */
export function TrajectoryCanvas({ tr, ghost, layers }: { tr: Trajectory; ghost: number[][] | null; layers: Layers }) {
  const wrap = useRef<HTMLDivElement>(null)
  const base = useRef<HTMLCanvasElement>(null)
  const over = useRef<HTMLCanvasElement>(null)
  const tip = useRef<HTMLDivElement>(null)
  const w = Math.max(280, useElementWidth(wrap, 10))
  const h = Math.round(Math.min(520, Math.max(280, w * 0.62)))
  const frame = useMemo(
    () => fitFrame([tr.obs, ...(layers.predictions ? [tr.pred_baseline, tr.pred_adaptive] : []), ...(ghost ? [ghost] : [])], w, h),
    [tr, ghost, layers.predictions, w, h],
  )
  const velK = useMemo(() => arrowScale(tr.obs.map((o) => [o[2], o[3]]), 0, tr.obs.length, 26), [tr])
  const trail = Math.max(8, Math.floor(tr.obs.length / 12))

  useEffect(() => {
    for (const c of [base.current, over.current]) {
      if (!c) continue
      const dpr = devicePixelRatio || 1
      c.width = w * dpr
      c.height = h * dpr
      c.getContext('2d')?.setTransform(dpr, 0, 0, dpr, 0, 0)
    }
    const ctx = base.current?.getContext('2d')
    if (ctx) drawStatic(ctx, tr, frame, layers, ghost, w, h)
    drawOverlay()
  }, [tr, frame, layers, ghost, w, h]) // eslint-disable-line react-hooks/exhaustive-deps

  function drawOverlay() {
    const c = over.current
    const ctx = c?.getContext('2d')
    if (!c || !ctx) return
    ctx.clearRect(0, 0, w, h)
    const t = effectiveT(useCursor.getState())
    if (t === null || !tr.t.length) {
      if (wrap.current) wrap.current.dataset.cursorIndex = ''
      return
    }
    const i = nearestIndex(tr.t, t)
    drawCursor(ctx, tr, frame, i, trail, velK)
    if (wrap.current) {
      wrap.current.dataset.cursorIndex = String(i)
      wrap.current.dataset.cursorT = String(tr.t[i])
    }
  }

  useEffect(() => {
    let raf = 0
    const unsub = useCursor.subscribe(() => {
      cancelAnimationFrame(raf)
      raf = requestAnimationFrame(drawOverlay)
    })
    return () => {
      unsub()
      cancelAnimationFrame(raf)
    }
  }) // re-subscribe each render: drawOverlay closes over the latest frame

  const nearest = (e: React.MouseEvent) => {
    const r = e.currentTarget.getBoundingClientRect()
    const mx = e.clientX - r.left
    const my = e.clientY - r.top
    let best = -1
    let bd = Infinity
    for (let i = 0; i < tr.obs.length; i++) {
      const d = (frame.px(tr.obs[i][0]) - mx) ** 2 + (frame.py(tr.obs[i][1]) - my) ** 2
      if (d < bd) { bd = d; best = i }
    }
    return { i: bd < 30 * 30 ? best : -1, mx, my }
  }

  const onMove = (e: React.MouseEvent) => {
    const { i, mx, my } = nearest(e)
    const el = tip.current
    if (i < 0) {
      useCursor.getState().setHover(null, SOURCE)
      if (el) el.hidden = true
      return
    }
    useCursor.getState().setHover(tr.t[i], SOURCE)
    if (el) {
      const o = tr.obs[i]
      const a = tr.actions[i]
      const e = mse4(tr.pred_adaptive[i], tr.next_obs?.[i])
      el.textContent = `t ${fmtInt(tr.t[i])} · x ${fmtNum(o[0], 3)} y ${fmtNum(o[1], 3)} · v (${fmtNum(o[2], 3)}, ${fmtNum(o[3], 3)})${a ? ` · a (${fmtNum(a[0], 2)}, ${fmtNum(a[1], 2)})` : ''}${e !== null ? ` · adaptive MSE of t+1 ${fmtNum(e, 3)}` : ''}`
      el.hidden = false
      el.style.transform = `translate(${Math.min(mx + 12, w - 330)}px, ${Math.max(0, my - 28)}px)`
    }
  }

  return (
    <div ref={wrap} className="relative" data-testid="trajectory-canvas" data-points={tr.obs.length} data-stride={tr.stride} data-ghost={ghost ? ghost.length : 0}>
      <div className="mb-1 flex items-center gap-3 text-[11px] text-zinc-400">
        <span className="flex items-center gap-1"><span className="h-0.5 w-6 rounded" style={{ background: 'linear-gradient(90deg,#3b82f6,#a855f7,#ef4444)' }} />truth (start → end)</span>
        {layers.predictions && <>
          <span className="flex items-center gap-1"><span className="w-5 border-t border-dashed border-zinc-400" />baseline (next position)</span>
          <span className="flex items-center gap-1"><span className="w-5 border-t border-dashed border-cyan-400" />adaptive (next position)</span>
        </>}
        {ghost && <span className="flex items-center gap-1"><span className="w-5 border-t border-dotted border-zinc-100" />ghost</span>}
        {layers.velocity && <span>→ velocity</span>}
        {layers.actions && <span className="text-amber-300">→ action</span>}
        <span className="ml-auto">
          <ExportMenu label="trajectory" onPng={() => {
            const c = document.createElement('canvas')
            if (!base.current || !over.current) return
            c.width = base.current.width; c.height = base.current.height
            const ctx = c.getContext('2d'); if (!ctx) return
            ctx.drawImage(base.current, 0, 0); ctx.drawImage(over.current, 0, 0)
            downloadCanvasPng('trajectory.png', c)
          }} />
        </span>
      </div>
      <div className="relative overflow-hidden rounded border border-zinc-800 bg-zinc-950" style={{ height: h }}>
        <canvas ref={base} style={{ width: w, height: h }} className="absolute inset-0" aria-hidden="true" />
        <canvas
          ref={over}
          style={{ width: w, height: h }}
          className="absolute inset-0 cursor-crosshair"
          role="img"
          aria-label={`Trajectory in the plane: ${tr.obs.length} points every ${tr.stride} steps from t ${fmtInt(tr.t[0])} to t ${fmtInt(tr.t[tr.t.length - 1])}`}
          onMouseMove={onMove}
          onMouseLeave={() => {
            useCursor.getState().setHover(null, SOURCE)
            if (tip.current) tip.current.hidden = true
          }}
          onClick={(e) => {
            const { i } = nearest(e)
            if (i >= 0) useCursor.getState().setPinned(tr.t[i])
          }}
        />
        <div ref={tip} hidden className="pointer-events-none absolute left-0 top-0 z-10 whitespace-nowrap rounded border border-zinc-700 bg-zinc-950/95 px-1.5 py-0.5 font-mono text-[11px] text-zinc-100" />
      </div>
    </div>
  )
}
