import { useMemo } from 'react'
import type { PerStep, UpdateMark } from '@/api/types'
import { minMaxDownsample } from '@/lib/downsample'
import { debiasedEma } from '@/lib/ema'
import type { LiveBuffer } from './useLiveRun'

export interface BandCols {
  min: ArrayLike<number | null>
  max: ArrayLike<number | null>
  mean: ArrayLike<number | null>
}

export interface MseData {
  x: number[]
  baseline: BandCols
  adaptive: BandCols
  frozen: ArrayLike<number | null>
  oracle: ArrayLike<number | null>
  baselineEma: ArrayLike<number | null>
  adaptiveEma: ArrayLike<number | null>
  marks: UpdateMark[]
  bucket: number
  total: number
  live: number
}

const EMPTY_BAND: BandCols = { min: [], max: [], mean: [] }

function concat<T>(a: ArrayLike<T>, b: ArrayLike<T>): T[] {
  const out = Array.from(a)
  for (let i = 0; i < b.length; i++) out.push(b[i])
  return out
}

/**
 * The MSE chart's columns: the server's downsampled window, with live rows (streamed while
 * a run is going) appended after the stored data's end and downsampled the same way on the
 * client. EMA columns come from the server (computed at full resolution before downsampling);
 * for live rows they are computed here on the full-resolution stream, same formula.
 */
export function useMseData(
  server: PerStep | undefined,
  live: LiveBuffer | null,
  liveVersion: number,
  window: [number, number] | null,
  points: number,
  emaAlpha: number,
): MseData | null {
  return useMemo(() => {
    const s = server?.series
    const base: MseData = {
      x: server?.t ?? [],
      baseline: s?.baseline_mse ?? EMPTY_BAND,
      adaptive: s?.adaptive_mse ?? EMPTY_BAND,
      frozen: s?.frozen_mse?.mean ?? [],
      oracle: s?.oracle_mse?.mean ?? [],
      baselineEma: s?.baseline_ema?.mean ?? [],
      adaptiveEma: s?.adaptive_ema?.mean ?? [],
      marks: server?.updates ?? [],
      bucket: server?.bucket ?? 1,
      total: server?.total ?? 0,
      live: 0,
    }
    if (!live || live.t.length === 0) return server ? base : null
    const serverEnd = server && server.t.length ? server.end : -Infinity
    const lo = Math.max(serverEnd, window?.[0] ?? -Infinity)
    const hi = window?.[1] ?? Infinity
    let i0 = 0
    while (i0 < live.t.length && live.t[i0] < lo) i0++
    let i1 = i0
    while (i1 < live.t.length && live.t[i1] < hi) i1++
    if (i1 <= i0) return server ? base : null
    const T = live.t.slice(i0, i1)
    const n = T.length
    const bucket = server?.bucket && server.bucket > 1 ? server.bucket : Math.max(1, Math.ceil((n + base.x.length) / points))
    const pts = Math.ceil(n / bucket)
    const ds = (ys: number[]) => minMaxDownsample(T, ys.slice(i0, i1), pts)
    const b = ds(live.baseline)
    const a = ds(live.adaptive)
    const f = ds(live.frozen)
    const o = ds(live.oracle)
    // EMA over the whole live stream at full resolution, then sampled at bucket starts.
    const be = debiasedEma(live.baseline, emaAlpha)
    const ae = debiasedEma(live.adaptive, emaAlpha)
    const sample = (e: Float64Array) => Array.from({ length: b.x.length }, (_, k) => e[i0 + k * b.bucket])
    const marks = live.marks.filter((m) => m.t >= lo && m.t < hi)
    return {
      x: concat(base.x, b.x),
      baseline: { min: concat(base.baseline.min, b.min), max: concat(base.baseline.max, b.max), mean: concat(base.baseline.mean, b.mean) },
      adaptive: { min: concat(base.adaptive.min, a.min), max: concat(base.adaptive.max, a.max), mean: concat(base.adaptive.mean, a.mean) },
      frozen: concat(base.frozen, f.mean),
      oracle: concat(base.oracle, o.mean),
      baselineEma: concat(base.baselineEma, sample(be)),
      adaptiveEma: concat(base.adaptiveEma, sample(ae)),
      marks: concat(base.marks, marks),
      bucket: Math.max(base.bucket, b.bucket),
      total: base.total + n,
      live: n,
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [server, live, liveVersion, window?.[0], window?.[1], points, emaAlpha])
}
