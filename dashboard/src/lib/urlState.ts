/**
 * View state ⇄ URL query string. Everything a researcher may want to share lives here:
 * session, run, cursor, zoom window, status filter, toggles, selected event and weight index.
 * Parsing is defensive: invalid values fall back to defaults instead of throwing.
 */
import { isKnownStatus } from './status'

export interface ViewState {
  session: string | null
  run: string | null
  /** pinned global time cursor (step) */
  t: number | null
  /** zoom window [from, to) in steps */
  from: number | null
  to: number | null
  /** event status filter; empty = all */
  status: string[]
  log: boolean
  smooth: boolean
  /** weight history index */
  k: number | null
  /** t of the event open in the detail panel */
  event: number | null
  /** sessions selected for comparison */
  compare: string[]
  /** events sort key, e.g. "t" or "-grad_norm" */
  sort: string | null
}

export const DEFAULT_VIEW: ViewState = {
  session: null,
  run: null,
  t: null,
  from: null,
  to: null,
  status: [],
  log: true,
  smooth: false,
  k: null,
  event: null,
  compare: [],
  sort: null,
}

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const SORT_RE = /^-?[a-z_]{1,32}$/

function id(v: string | null): string | null {
  return v !== null && ID_RE.test(v) ? v : null
}

function int(v: string | null, min = 0): number | null {
  if (v === null || v.trim() === '') return null
  const n = Number(v)
  return Number.isSafeInteger(n) && n >= min ? n : null
}

function bool(v: string | null, dflt: boolean): boolean {
  if (v === '1' || v === 'true') return true
  if (v === '0' || v === 'false') return false
  return dflt
}

function list(v: string | null, ok: (s: string) => boolean): string[] {
  if (!v) return []
  return [...new Set(v.split(',').filter(ok))]
}

export function parseViewState(search: string | URLSearchParams): ViewState {
  const p = typeof search === 'string' ? new URLSearchParams(search) : search
  let from = int(p.get('from'))
  let to = int(p.get('to'))
  if (from !== null && to !== null && to <= from) {
    from = null
    to = null
  }
  const sort = p.get('sort')
  return {
    session: id(p.get('session')),
    run: id(p.get('run')),
    t: int(p.get('t')),
    from,
    to,
    status: list(p.get('status'), isKnownStatus),
    log: bool(p.get('log'), DEFAULT_VIEW.log),
    smooth: bool(p.get('smooth'), DEFAULT_VIEW.smooth),
    k: int(p.get('k')),
    event: int(p.get('event')),
    compare: list(p.get('compare'), (s) => ID_RE.test(s)).slice(0, 8),
    sort: sort !== null && SORT_RE.test(sort) ? sort : null,
  }
}

const ORDER: (keyof ViewState)[] = [
  'session', 'run', 't', 'from', 'to', 'status', 'log', 'smooth', 'k', 'event', 'compare', 'sort',
]

/**
 * Writes the non-default fields of `state` into a copy of `base` (unrelated params are kept,
 * default-valued fields are removed) in a stable order.
 */
export function serializeViewState(state: ViewState, base?: URLSearchParams | string): URLSearchParams {
  const src = new URLSearchParams(base ?? '')
  const out = new URLSearchParams()
  for (const key of ORDER) {
    const v = state[key]
    const d = DEFAULT_VIEW[key]
    if (Array.isArray(v)) {
      if (v.length) out.set(key, v.join(','))
    } else if (typeof v === 'boolean') {
      if (v !== d) out.set(key, v ? '1' : '0')
    } else if (v !== null && v !== undefined) {
      out.set(key, String(v))
    }
  }
  for (const [k, v] of src) if (!(ORDER as string[]).includes(k)) out.append(k, v)
  return out
}

/** Applies a partial update to a query string and returns the new query string (no "?"). */
export function patchSearch(search: string | URLSearchParams, patch: Partial<ViewState>): string {
  const cur = parseViewState(search)
  return serializeViewState({ ...cur, ...patch }, search).toString()
}
