/**
 * Typed fetch wrapper for the artifacts API. Two failure kinds: the API answered with an
 * error (`ApiError`, carrying the server's `detail`), or nothing answered (`ApiUnreachable`).
 */

export const API_BASE: string = (import.meta.env.VITE_API_BASE as string | undefined) ?? ''

/** Absolute URL of the API, for messages ("API unreachable at …"). */
export function apiOrigin(): string {
  if (API_BASE) return `${API_BASE.replace(/\/$/, '')}/api`
  return `${window.location.origin}/api`
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly url: string,
  ) {
    super(`${status}: ${detail}`)
    this.name = 'ApiError'
  }
}

export class ApiUnreachable extends Error {
  constructor(readonly url: string) {
    super(`API unreachable at ${apiOrigin()}`)
    this.name = 'ApiUnreachable'
  }
}

export type Query = Record<string, string | number | boolean | null | undefined | string[]>

export function apiUrl(path: string, query?: Query): string {
  const qs = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === null || v === undefined || v === '') continue
    if (Array.isArray(v)) {
      if (v.length) qs.set(k, v.join(','))
    } else qs.set(k, String(v))
  }
  const q = qs.toString()
  return `${API_BASE}/api${path}${q ? `?${q}` : ''}`
}

async function parse<T>(res: Response, url: string): Promise<T> {
  const ct = res.headers.get('content-type') ?? ''
  if (!res.ok) {
    if (!ct.includes('json')) {
      // A dev proxy with nothing behind it answers 502/504 (or 500) with no JSON body.
      if (res.status >= 500) throw new ApiUnreachable(url)
      throw new ApiError(res.status, res.statusText || 'request failed', url)
    }
    const body = (await res.json().catch(() => null)) as { detail?: unknown } | null
    const d = body?.detail
    const detail = typeof d === 'string' ? d : d ? JSON.stringify(d) : res.statusText
    throw new ApiError(res.status, detail, url)
  }
  if (!ct.includes('json')) throw new ApiError(res.status, `expected JSON, got ${ct || 'nothing'}`, url)
  return (await res.json()) as T
}

export async function apiGet<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  const url = apiUrl(path, query)
  let res: Response
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json' } })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiUnreachable(url)
  }
  return parse<T>(res, url)
}

export async function apiPost<T>(path: string, body: unknown): Promise<T> {
  const url = apiUrl(path)
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body ?? {}),
    })
  } catch {
    throw new ApiUnreachable(url)
  }
  return parse<T>(res, url)
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiUnreachable) return e.message
  if (e instanceof ApiError) return e.status === 404 ? `Not found: ${e.detail}` : `Error ${e.status}: ${e.detail}`
  if (e instanceof Error) return e.message
  return String(e)
}
