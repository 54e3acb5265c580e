/** Number, duration and size formatting. Pure; every function accepts null/undefined. */

const DASH = '—'

type Num = number | null | undefined

export function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x)
}

/** Compact scientific-friendly number: 4 significant digits, exponent for tiny/huge values. */
export function fmtNum(x: Num, digits = 4): string {
  if (!isNum(x)) return x === undefined || x === null ? DASH : String(x)
  if (x === 0) return '0'
  const a = Math.abs(x)
  if (a < 1e-3 || a >= 1e6)
    return x
      .toExponential(Math.max(0, digits - 2))
      .replace('e+', 'e')
      .replace(/\.?0+e/, 'e')
  return Number(x.toPrecision(digits)).toString()
}

export function fmtInt(x: Num): string {
  if (!isNum(x)) return DASH
  return Math.round(x).toLocaleString('en-US')
}

/** Percentage of a ratio (0.423 → "42.3%"); signed when asked. */
export function fmtPct(ratio: Num, digits = 1, signed = false): string {
  if (!isNum(ratio)) return DASH
  const v = ratio * 100
  const s = v.toFixed(digits)
  return `${signed && v > 0 ? '+' : ''}${s}%`
}

/** Milliseconds → "850 ms", "1.25 s", "3 min 05 s", "2 h 03 min". */
export function fmtDuration(ms: Num): string {
  if (!isNum(ms)) return DASH
  const neg = ms < 0
  const a = Math.abs(ms)
  let s: string
  if (a < 1) s = `${a.toPrecision(2)} ms`
  else if (a < 1000) s = `${Math.round(a)} ms`
  else if (a < 60_000) s = `${Number((a / 1000).toPrecision(3))} s`
  else if (a < 3_600_000) {
    const m = Math.floor(a / 60_000)
    const sec = Math.floor((a % 60_000) / 1000)
    s = `${m} min ${String(sec).padStart(2, '0')} s`
  } else if (a < 86_400_000) {
    const h = Math.floor(a / 3_600_000)
    const m = Math.floor((a % 3_600_000) / 60_000)
    s = `${h} h ${String(m).padStart(2, '0')} min`
  } else {
    const d = Math.floor(a / 86_400_000)
    const h = Math.floor((a % 86_400_000) / 3_600_000)
    s = `${d} d ${h} h`
  }
  return neg ? `-${s}` : s
}

/** Age relative to now: "just now", "5 min ago", "3 h ago", "12 d ago". */
export function fmtAge(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return DASH
  const t = Date.parse(iso)
  if (!Number.isFinite(t)) return DASH
  const s = Math.max(0, (now - t) / 1000)
  if (s < 45) return 'just now'
  if (s < 3600) return `${Math.round(s / 60)} min ago`
  if (s < 86400) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} d ago`
}

export function fmtDate(iso: string | null | undefined): string {
  if (!iso) return DASH
  const t = new Date(iso)
  if (Number.isNaN(t.getTime())) return DASH
  return t.toISOString().replace('T', ' ').slice(0, 19) + 'Z'
}

export function fmtBytes(n: Num): string {
  if (!isNum(n)) return DASH
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`
}

/** "abcdef0123456789" → "abcdef01…" */
export function shortHash(h: string | null | undefined, n = 10): string {
  if (!h) return DASH
  return h.length <= n ? h : `${h.slice(0, n)}…`
}

/** Relative change (post - pre) / pre, null when undefined. */
export function relChange(pre: Num, post: Num): number | null {
  if (!isNum(pre) || !isNum(post) || pre === 0) return null
  return (post - pre) / Math.abs(pre)
}

/** Compact axis number: 950, 1.2k, 250k, 1M, 3.5M. */
export function fmtCompact(x: Num): string {
  if (!isNum(x)) return DASH
  const a = Math.abs(x)
  const trim = (v: number) => Number(v.toPrecision(3)).toString()
  if (a >= 1e9) return `${trim(x / 1e9)}G`
  if (a >= 1e6) return `${trim(x / 1e6)}M`
  if (a >= 1e4) return `${trim(x / 1e3)}k`
  return Number.isInteger(x) ? String(x) : trim(x)
}
