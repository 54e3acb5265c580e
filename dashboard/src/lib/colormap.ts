/**
 * Colour maps. Diverging RdBu (ColorBrewer, 11 classes) interpolated in linear-light RGB so
 * the lightness ramps stay smooth; 0 maps to the neutral centre. Sequential "time" map for
 * trajectories (blue → violet → red, start → end).
 */
export type Rgb = [number, number, number]

const RDBU: Rgb[] = [
  [5, 48, 97], [33, 102, 172], [67, 147, 195], [146, 197, 222], [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199], [244, 165, 130], [214, 96, 77], [178, 24, 43], [103, 0, 31],
]

const TIME: Rgb[] = [
  [59, 130, 246], [99, 102, 241], [168, 85, 247], [236, 72, 153], [239, 68, 68],
]

const toLin = (c: number) => {
  const s = c / 255
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
}
const toSrgb = (l: number) => {
  const s = l <= 0.0031308 ? 12.92 * l : 1.055 * l ** (1 / 2.4) - 0.055
  return Math.round(Math.min(1, Math.max(0, s)) * 255)
}

function ramp(stops: Rgb[], u: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(u) ? u : 0.5)) * (stops.length - 1)
  const i = Math.min(stops.length - 2, Math.floor(x))
  const f = x - i
  const a = stops[i]
  const b = stops[i + 1]
  return [0, 1, 2].map((j) => toSrgb(toLin(a[j]) * (1 - f) + toLin(b[j]) * f)) as Rgb
}

/** Value in [-vmax, vmax] → RdBu colour; negative blue, positive red, 0 near-white. */
export function diverging(value: number, vmax: number): Rgb {
  if (!Number.isFinite(value)) return [64, 64, 64]
  const u = vmax > 0 ? 0.5 + value / (2 * vmax) : 0.5
  return ramp(RDBU, u)
}

/** u in [0, 1] → time colour (start blue, end red). */
export function timeColor(u: number): Rgb {
  return ramp(TIME, u)
}

export function rgbCss([r, g, b]: Rgb, alpha = 1): string {
  return alpha >= 1 ? `rgb(${r},${g},${b})` : `rgba(${r},${g},${b},${alpha})`
}

/** Symmetric colour limit for a signed matrix: max |v| (1 when all zero). */
export function symmetricLimit(values: ArrayLike<number>): number {
  let m = 0
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i])
    if (Number.isFinite(a) && a > m) m = a
  }
  return m > 0 ? m : 1
}
