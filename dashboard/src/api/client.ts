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

/** The error a failed answer stands for: the server's `detail` when it sent JSON; a 5xx
 * without JSON is a dev proxy with nothing behind it (502/504, or 500). */
async function errorOf(res: Response, url: string): Promise<Error> {
  const ct = res.headers.get('content-type') ?? ''
  if (!ct.includes('json')) return res.status >= 500 ? new ApiUnreachable(url) : new ApiError(res.status, res.statusText || 'request failed', url)
  const body = (await res.json().catch(() => null)) as { detail?: unknown } | null
  const d = body?.detail
  return new ApiError(res.status, typeof d === 'string' ? d : d ? JSON.stringify(d) : res.statusText, url)
}

export interface RequestOptions {
  /** sent as JSON; none: no body */
  body?: unknown
  query?: Query
  signal?: AbortSignal
  /** the accept header (default JSON) */
  accept?: string
}

/** A request whose answer is checked for errors but returned as is (JSON or a stream). */
export async function apiRequest(method: string, path: string, { body, query, signal, accept = 'application/json' }: RequestOptions = {}): Promise<Response> {
  const url = apiUrl(path, query)
  let res: Response
  try {
    res = await fetch(url, {
      method,
      signal,
      headers: body === undefined ? { accept } : { 'content-type': 'application/json', accept },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e
    throw new ApiUnreachable(url)
  }
  if (!res.ok) throw await errorOf(res, url)
  return res
}

/** A request answered with JSON (an answer that is not JSON is an error). */
export async function apiJson<T>(method: string, path: string, opts: Omit<RequestOptions, 'accept'> = {}): Promise<T> {
  const res = await apiRequest(method, path, opts)
  const ct = res.headers.get('content-type') ?? ''
  if (!ct.includes('json')) throw new ApiError(res.status, `expected JSON, got ${ct || 'nothing'}`, apiUrl(path, opts.query))
  return (await res.json()) as T
}

export function apiGet<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
  return apiJson<T>('GET', path, { query, signal })
}

export function apiPost<T>(path: string, body: unknown): Promise<T> {
  return apiJson<T>('POST', path, { body: body ?? {} })
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiUnreachable) return e.message
  if (e instanceof ApiError) return e.status === 404 ? `Not found: ${e.detail}` : `Error ${e.status}: ${e.detail}`
  if (e instanceof Error) return e.message
  return String(e)
}
