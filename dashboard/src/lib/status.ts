/**
 * Update statuses → label, colour and marker shape. Shapes make statuses distinguishable
 * without colour (commit ● / loss ▲ / grad ■ / state ◆ / canary ✕ / gate ⬟).
 */
export type MarkerShape = 'circle' | 'triangle' | 'square' | 'diamond' | 'cross' | 'pentagon'

export interface StatusStyle {
  status: string
  label: string
  short: string
  color: string
  shape: MarkerShape
  glyph: string
  rollback: boolean
}

export const STATUS_ORDER = [
  'commit',
  'rollback_loss_regression',
  'rollback_grad_norm',
  'rollback_state_norm',
  'rollback_canary',
  'blocked_gate',
] as const

export type KnownStatus = (typeof STATUS_ORDER)[number]

const STYLES: Record<KnownStatus, Omit<StatusStyle, 'status'>> = {
  commit: { label: 'commit', short: 'commit', color: '#34d399', shape: 'circle', glyph: '●', rollback: false },
  rollback_loss_regression: {
    label: 'rollback: loss regression', short: 'loss', color: '#f87171', shape: 'triangle', glyph: '▲', rollback: true,
  },
  rollback_grad_norm: {
    label: 'rollback: gradient norm', short: 'grad', color: '#fb923c', shape: 'square', glyph: '■', rollback: true,
  },
  rollback_state_norm: {
    label: 'rollback: state norm', short: 'state', color: '#c084fc', shape: 'diamond', glyph: '◆', rollback: true,
  },
  rollback_canary: {
    label: 'rollback: canary', short: 'canary', color: '#facc15', shape: 'cross', glyph: '✕', rollback: true,
  },
  blocked_gate: { label: 'blocked by gate', short: 'gate', color: '#f472b6', shape: 'pentagon', glyph: '⬟', rollback: true },
}

const UNKNOWN: Omit<StatusStyle, 'status'> = {
  label: 'unknown', short: '?', color: '#a1a1aa', shape: 'circle', glyph: '○', rollback: false,
}

export function statusStyle(status: string): StatusStyle {
  const s = (STYLES as Record<string, Omit<StatusStyle, 'status'>>)[status]
  return s ? { status, ...s } : { status, ...UNKNOWN, label: status || UNKNOWN.label }
}

export function isKnownStatus(s: string): s is KnownStatus {
  return (STATUS_ORDER as readonly string[]).includes(s)
}

/** Draws a status marker centred at (x, y) with radius r on a 2-D canvas context. */
export function drawMarker(
  ctx: CanvasRenderingContext2D,
  shape: MarkerShape,
  x: number,
  y: number,
  r: number,
): void {
  ctx.beginPath()
  switch (shape) {
    case 'circle':
      ctx.arc(x, y, r, 0, Math.PI * 2)
      ctx.fill()
      return
    case 'square':
      ctx.rect(x - r * 0.85, y - r * 0.85, r * 1.7, r * 1.7)
      ctx.fill()
      return
    case 'triangle':
      ctx.moveTo(x, y - r * 1.1)
      ctx.lineTo(x + r, y + r * 0.8)
      ctx.lineTo(x - r, y + r * 0.8)
      ctx.closePath()
      ctx.fill()
      return
    case 'diamond':
      ctx.moveTo(x, y - r * 1.2)
      ctx.lineTo(x + r, y)
      ctx.lineTo(x, y + r * 1.2)
      ctx.lineTo(x - r, y)
      ctx.closePath()
      ctx.fill()
      return
    case 'pentagon':
      for (let i = 0; i < 5; i++) {
        const a = -Math.PI / 2 + (i * 2 * Math.PI) / 5
        const px = x + r * 1.05 * Math.cos(a)
        const py = y + r * 1.05 * Math.sin(a)
        if (i === 0) ctx.moveTo(px, py)
        else ctx.lineTo(px, py)
      }
      ctx.closePath()
      ctx.fill()
      return
    case 'cross': {
      const lw = ctx.lineWidth
      const ss = ctx.strokeStyle
      ctx.lineWidth = Math.max(1.5, r * 0.55)
      ctx.strokeStyle = ctx.fillStyle
      ctx.moveTo(x - r, y - r)
      ctx.lineTo(x + r, y + r)
      ctx.moveTo(x + r, y - r)
      ctx.lineTo(x - r, y + r)
      ctx.stroke()
      ctx.lineWidth = lw
      ctx.strokeStyle = ss
      return
    }
  }
}

/** SVG path for a marker (used by the small SVG icons and the SVG export). */
export function markerSvgPath(shape: MarkerShape, x: number, y: number, r: number): string {
  const f = (n: number) => Number(n.toFixed(2))
  switch (shape) {
    case 'circle':
      return `M${f(x - r)},${f(y)}a${f(r)},${f(r)} 0 1,0 ${f(2 * r)},0a${f(r)},${f(r)} 0 1,0 ${f(-2 * r)},0Z`
    case 'square':
      return `M${f(x - r * 0.85)},${f(y - r * 0.85)}h${f(r * 1.7)}v${f(r * 1.7)}h${f(-r * 1.7)}Z`
    case 'triangle':
      return `M${f(x)},${f(y - r * 1.1)}L${f(x + r)},${f(y + r * 0.8)}L${f(x - r)},${f(y + r * 0.8)}Z`
    case 'diamond':
      return `M${f(x)},${f(y - r * 1.2)}L${f(x + r)},${f(y)}L${f(x)},${f(y + r * 1.2)}L${f(x - r)},${f(y)}Z`
    case 'pentagon': {
      const pts = Array.from({ length: 5 }, (_, i) => {
        const a = -Math.PI / 2 + (i * 2 * Math.PI) / 5
        return `${f(x + r * 1.05 * Math.cos(a))},${f(y + r * 1.05 * Math.sin(a))}`
      })
      return `M${pts.join('L')}Z`
    }
    case 'cross':
      return `M${f(x - r)},${f(y - r)}L${f(x + r)},${f(y + r)}M${f(x + r)},${f(y - r)}L${f(x - r)},${f(y + r)}`
  }
}
