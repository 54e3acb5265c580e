import type uPlot from 'uplot'
import { fmtCompact, fmtNum } from '@/lib/format'

export const AXIS_STROKE = '#a1a1aa'
export const GRID_STROKE = 'rgba(255,255,255,0.07)'
export const TICK_STROKE = 'rgba(255,255,255,0.12)'

// Tick steps for count axes: whole numbers only (1, 2, 5, 10, 20, 50, ...).
const INTEGER_INCRS = Array.from({ length: 10 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat()

export function xAxis(label?: string, integer = false): uPlot.Axis {
  return {
    ...(integer ? { incrs: INTEGER_INCRS } : {}),
    stroke: AXIS_STROKE,
    grid: { stroke: GRID_STROKE, width: 1 },
    ticks: { stroke: TICK_STROKE, width: 1, size: 4 },
    font: '11px ui-sans-serif, system-ui, sans-serif',
    labelFont: '11px ui-sans-serif, system-ui, sans-serif',
    label,
    labelSize: label ? 16 : 0,
    size: label ? 38 : 24,
    values: (_u, splits) => splits.map((v) => fmtCompact(v)),
  }
}

const mantissa = (v: number) => v / 10 ** Math.floor(Math.log10(v) + 1e-9)
const isDecade = (v: number) => v > 0 && Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9
const is125 = (v: number) => v > 0 && [1, 2, 5].some((m) => Math.abs(mantissa(v) - m) < 1e-6)
// log axes: whole decades when two or more are in range; else 1-2-5 steps (0.002, 0.005,
// 0.01, 0.02: labels 0.003 … 0.009 would overlap); else every split
const decadesOnly = (_u: uPlot, splits: number[]) => {
  if (splits.filter(isDecade).length >= 2) return splits.map((v) => (isDecade(v) ? v : null))
  if (splits.filter(is125).length >= 2) return splits.map((v) => (is125(v) ? v : null))
  return splits
}

export function yAxis(label?: string, scale = 'y', side: 0 | 1 | 2 | 3 = 3, log = false): uPlot.Axis {
  return {
    // log axes: ticks and grid at whole decades only (1-9 sub-ticks are noise at this size)
    ...(log ? { filter: decadesOnly } : {}),
    scale,
    side,
    stroke: AXIS_STROKE,
    // (uPlot has no fallback for an explicit `filter: undefined` on grid/ticks: set it only for log)
    grid: { show: side === 3, stroke: GRID_STROKE, width: 1, ...(log ? { filter: decadesOnly } : {}) },
    ticks: { stroke: TICK_STROKE, width: 1, size: 4, ...(log ? { filter: decadesOnly } : {}) },
    font: '11px ui-sans-serif, system-ui, sans-serif',
    labelFont: '11px ui-sans-serif, system-ui, sans-serif',
    label,
    labelSize: label ? 16 : 0,
    size: 56,
    values: (_u, splits) => splits.map((v) => (v === null || v === undefined ? '' : fmtNum(v, 3))),
  }
}

export function hexToRgba(hex: string, alpha: number): string {
  const h = hex.replace('#', '')
  if (h.length !== 6) return hex
  const n = parseInt(h, 16)
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`
}
