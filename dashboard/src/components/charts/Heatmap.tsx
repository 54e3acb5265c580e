/**
 * Signed matrix heatmap on canvas: diverging RdBu centred at 0 with a symmetric limit, hover
 * shows value and (row, col), colour bar underneath, CSV/PNG export, copy as JSON.
 */
import { useEffect, useMemo, useRef } from 'react'
import { diverging, rgbCss, symmetricLimit } from '@/lib/colormap'
import { toCsv } from '@/lib/csv'
import { fmtNum } from '@/lib/format'
import { CopyButton } from '@/components/ui/CopyButton'
import { downloadCanvasPng, downloadText, safeName } from './download'
import { ExportMenu } from './ExportMenu'

export interface HeatmapProps {
  id: string
  title: string
  rows: number
  cols: number
  /** row-major values */
  data: ArrayLike<number>
  /** colour limit; default max |v| */
  vmax?: number
  maxCell?: number
  maxWidth?: number
  rowLabel?: string
  colLabel?: string
}

export function Heatmap({ id, title, rows, cols, data, vmax, maxCell = 22, maxWidth = 420, rowLabel = 'row', colLabel = 'col' }: HeatmapProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null)
  const barRef = useRef<HTMLCanvasElement>(null)
  const tipRef = useRef<HTMLDivElement>(null)
  const lim = useMemo(() => vmax ?? symmetricLimit(data), [vmax, data])
  const cell = Math.max(3, Math.min(maxCell, Math.floor(maxWidth / Math.max(1, cols))))
  const W = cols * cell
  const H = rows * cell
  const stats = useMemo(() => {
    let mn = Infinity
    let mx = -Infinity
    let ss = 0
    for (let i = 0; i < data.length; i++) {
      const v = data[i]
      if (v < mn) mn = v
      if (v > mx) mx = v
      ss += v * v
    }
    return { mn, mx, fro: Math.sqrt(ss) }
  }, [data])

  useEffect(() => {
    const c = canvasRef.current
    const ctx = c?.getContext('2d')
    if (!c || !ctx) return
    const dpr = devicePixelRatio || 1
    c.width = W * dpr
    c.height = H * dpr
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < cols; k++) {
        ctx.fillStyle = rgbCss(diverging(data[r * cols + k], lim))
        ctx.fillRect(k * cell, r * cell, cell, cell)
      }
    if (cell >= 8) {
      // subtle cell borders
      ctx.strokeStyle = 'rgba(9,9,11,0.35)'
      ctx.lineWidth = 1
      ctx.beginPath()
      for (let r = 1; r < rows; r++) {
        ctx.moveTo(0, r * cell + 0.5)
        ctx.lineTo(W, r * cell + 0.5)
      }
      for (let k = 1; k < cols; k++) {
        ctx.moveTo(k * cell + 0.5, 0)
        ctx.lineTo(k * cell + 0.5, H)
      }
      ctx.stroke()
    }
  }, [data, rows, cols, cell, lim, W, H])

  useEffect(() => {
    const c = barRef.current
    const ctx = c?.getContext('2d')
    if (!c || !ctx) return
    const w = c.width
    for (let i = 0; i < w; i++) {
      ctx.fillStyle = rgbCss(diverging(((i + 0.5) / w) * 2 - 1, 1))
      ctx.fillRect(i, 0, 1, c.height)
    }
  }, [])

  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const tip = tipRef.current
    if (!tip) return
    const rect = e.currentTarget.getBoundingClientRect()
    const k = Math.floor((e.clientX - rect.left) / cell)
    const r = Math.floor((e.clientY - rect.top) / cell)
    if (r < 0 || k < 0 || r >= rows || k >= cols) {
      tip.hidden = true
      return
    }
    const v = data[r * cols + k]
    tip.textContent = `${title}[${r}, ${k}] = ${fmtNum(v, 5)}`
    tip.hidden = false
    tip.style.transform = `translate(${Math.min(k * cell + cell + 6, Math.max(0, W - 150))}px, ${r * cell + cell + 4}px)`
  }

  const asCsv = () => {
    const cols_: Record<string, number[]> = {}
    for (let k = 0; k < cols; k++) cols_[`${colLabel}${k}`] = Array.from({ length: rows }, (_, r) => data[r * cols + k])
    return toCsv(cols_)
  }

  return (
    <figure
      className="min-w-0"
      data-chart="heatmap"
      data-testid={id}
      data-rows={rows}
      data-cols={cols}
      data-vmax={lim}
      data-min={stats.mn}
      data-max={stats.mx}
      data-fro={stats.fro}
    >
      <figcaption className="mb-1 flex items-center gap-2 text-xs">
        <span className="font-mono font-semibold text-zinc-100">{title}</span>
        <span className="text-zinc-500">
          {rows}×{cols} · ‖·‖F {fmtNum(stats.fro, 3)}
        </span>
        <span className="ml-auto flex items-center gap-1">
          <CopyButton text={JSON.stringify({ shape: [rows, cols], data: Array.from(data) })} label={`Copy ${title} as JSON`} />
          <ExportMenu
            label={title}
            onPng={() => canvasRef.current && downloadCanvasPng(`${safeName(id)}.png`, canvasRef.current)}
            onCsv={() => downloadText(`${safeName(id)}.csv`, asCsv(), 'text/csv')}
          />
        </span>
      </figcaption>
      <div className="relative inline-block">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`${title} heatmap, ${rows} ${rowLabel}s by ${cols} ${colLabel}s, values from ${fmtNum(stats.mn, 3)} to ${fmtNum(stats.mx, 3)}, colour limit ±${fmtNum(lim, 3)}`}
          style={{ width: W, height: H }}
          className="block cursor-crosshair rounded-sm"
          onMouseMove={onMove}
          onMouseLeave={() => tipRef.current && (tipRef.current.hidden = true)}
        />
        <div
          ref={tipRef}
          hidden
          className="pointer-events-none absolute left-0 top-0 z-10 whitespace-nowrap rounded border border-zinc-700 bg-zinc-950/95 px-1.5 py-0.5 font-mono text-[11px] text-zinc-100 shadow-lg"
        />
      </div>
      <div className="mt-1 flex items-center gap-1.5 text-[10px] text-zinc-400" aria-hidden="true">
        <span className="font-mono">−{fmtNum(lim, 2)}</span>
        <canvas ref={barRef} width={120} height={6} className="h-1.5 w-[120px] rounded-sm" />
        <span className="font-mono">+{fmtNum(lim, 2)}</span>
      </div>
    </figure>
  )
}
