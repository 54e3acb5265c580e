/**
 * PATCH, DELETE and streamed POST for the chat API, with the same two failure kinds as
 * `@/api/client` (`ApiError` with the server's detail, `ApiUnreachable` when nothing
 * answered).
 */
import { ApiError, ApiUnreachable, apiUrl } from '@/api/client'

async function errorOf(res: Response, url: string): Promise<Error> {
  const ct = res.headers.get('content-type') ?? ''
  if (!ct.includes('json')) return res.status >= 500 ? new ApiUnreachable(url) : new ApiError(res.status, res.statusText || 'request failed', url)
  const body = (await res.json().catch(() => null)) as { detail?: unknown } | null
  const d = body?.detail
  return new ApiError(res.status, typeof d === 'string' ? d : d ? JSON.stringify(d) : res.statusText, url)
}

/** A request whose answer is checked for errors but returned as is (JSON or a stream). */
export async function apiFetch(method: string, path: string, body?: unknown, signal?: AbortSignal, accept = 'application/json'): Promise<Response> {
  const url = apiUrl(path)
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

export async function apiJson<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await apiFetch(method, path, body)
  return (await res.json()) as T
}
