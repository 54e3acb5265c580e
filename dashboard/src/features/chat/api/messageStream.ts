import { ApiError, apiRequest, apiUrl } from '@/api/client'
import { SseParser } from '../lib/sseParse'
import type { ChatMessageRequest, ChatTurn } from './types'

/**
 * Sends a message (`POST /chat/sessions/{id}/messages`) and reads its event stream: every
 * `token` goes to `onToken` as it arrives, the final `turn` record resolves the promise, an
 * `error` event rejects it with an `ApiError`. Errors before the stream (404 session, 422
 * prompt) reject the same way. Aborting stops reading (the server still completes the turn).
 */
export async function sendMessage(
  sessionId: string,
  body: ChatMessageRequest,
  onToken: (text: string) => void,
  signal?: AbortSignal,
): Promise<ChatTurn> {
  const path = `/chat/sessions/${encodeURIComponent(sessionId)}/messages`
  const res = await apiRequest('POST', path, { body, signal, accept: 'text/event-stream' })
  if (!res.body) throw new ApiError(res.status, 'the server sent no stream', apiUrl(path))
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
  const parser = new SseParser()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      for (const m of parser.push(value)) {
        const data = JSON.parse(m.data) as unknown
        if (m.event === 'token') onToken((data as { text: string }).text)
        else if (m.event === 'turn') return data as ChatTurn
        else if (m.event === 'error') {
          const e = data as { status: number; detail: string }
          throw new ApiError(e.status, e.detail, apiUrl(path))
        }
      }
    }
  } finally {
    reader.cancel().catch(() => undefined)
  }
  throw new ApiError(502, 'the stream ended before the turn was stored', apiUrl(path))
}
