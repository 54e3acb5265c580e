/**
 * Minimal SVG serialisation of a time chart (axes box, tick labels, one polyline per series,
 * optional markers). Used by "Export SVG": vector output without an SVG chart library.
 */
import { fmtNum } from './format'
import { markerSvgPath, statusStyle } from './status'

export interface SvgSeries {
  label: string
  color: string
  values: ArrayLike<number | null>
  dash?: number[]
  width?: number
}

export interface SvgChart {
  title: string
  x: ArrayLike<number>
  series: SvgSeries[]
  log?: boolean
  width?: number
  height?: number
  markers?: { t: ArrayLike<number>; status: ArrayLike<string> }
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function chartToSvg(c: SvgChart): string {
  const W = c.width ?? 960
  const H = c.height ?? 360
  const m = { l: 64, r: 16, t: 28, b: 32 }
  const pw = W - m.l - m.r
  const ph = H - m.t - m.b
  const tf = (v: number) => (c.log ? Math.log10(v) : v)
  let x0 = Infinity
  let x1 = -Infinity
  for (let i = 0; i < c.x.length; i++) {
    x0 = Math.min(x0, c.x[i])
    x1 = Math.max(x1, c.x[i])
  }
  let y0 = Infinity
  let y1 = -Infinity
  for (const s of c.series)
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i]
      if (v === null || !Number.isFinite(v) || (c.log && v <= 0)) continue
      y0 = Math.min(y0, tf(v))
      y1 = Math.max(y1, tf(v))
    }
  if (!Number.isFinite(x0)) { x0 = 0; x1 = 1 }
  if (!Number.isFinite(y0)) { y0 = 0; y1 = 1 }
  if (x1 === x0) x1 = x0 + 1
  if (y1 === y0) y1 = y0 + 1
  const px = (v: number) => m.l + ((v - x0) / (x1 - x0)) * pw
  const py = (v: number) => m.t + ph - ((tf(v) - y0) / (y1 - y0)) * ph
  const r = (n: number) => n.toFixed(1)
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#09090b"/>`,
    `<text x="${m.l}" y="18" fill="#e4e4e7" font-size="13">${esc(c.title)}</text>`,
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#3f3f46"/>`,
  ]
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4
    const y = m.t + ph - (ph * i) / 4
    const lab = c.log ? fmtNum(10 ** yv, 3) : fmtNum(yv, 3)
    parts.push(`<text x="${m.l - 6}" y="${r(y + 4)}" fill="#a1a1aa" text-anchor="end">${lab}</text>`)
    const xv = x0 + ((x1 - x0) * i) / 4
    parts.push(`<text x="${r(px(xv))}" y="${H - 10}" fill="#a1a1aa" text-anchor="middle">${fmtNum(xv, 6)}</text>`)
  }
  for (const s of c.series) {
    let d = ''
    let pen = false
    for (let i = 0; i < Math.min(c.x.length, s.values.length); i++) {
      const v = s.values[i]
      if (v === null || !Number.isFinite(v) || (c.log && v <= 0)) {
        pen = false
        continue
      }
      d += `${pen ? 'L' : 'M'}${r(px(c.x[i]))},${r(py(v))}`
      pen = true
    }
    const dash = s.dash?.length ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''
    parts.push(
      `<path d="${d}" fill="none" stroke="${esc(s.color)}" stroke-width="${s.width ?? 1.5}"${dash}><title>${esc(s.label)}</title></path>`,
    )
  }
  if (c.markers) {
    for (let i = 0; i < c.markers.t.length; i++) {
      const st = statusStyle(c.markers.status[i])
      const x = px(c.markers.t[i])
      const path = markerSvgPath(st.shape, x, m.t + 7, 3.5)
      const paint = st.shape === 'cross' ? `fill="none" stroke="${st.color}"` : `fill="${st.color}"`
      parts.push(`<path d="${path}" ${paint}/>`)
    }
  }
  c.series.forEach((s, i) => {
    const x = W - m.r - (c.series.length - i) * 120
    parts.push(`<line x1="${x}" x2="${x + 16}" y1="14" y2="14" stroke="${esc(s.color)}" stroke-width="2"/>`)
    parts.push(`<text x="${x + 20}" y="18" fill="#d4d4d8">${esc(s.label)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}
