import { useQueryClient } from '@tanstack/react-query'
import { useCallback, useEffect, useRef, useState } from 'react'
import { chatKeys } from '../api/chat'
import { sendMessage } from '../api/messageStream'
import type { ChatMessageRequest, ChatTurn } from '../api/types'
import { mergeTurn } from '../lib/turns'

export interface Pending {
  prompt: string
  reply: string
  tokens: number
}

/**
 * Sends messages to one session and exposes the reply as it streams. The stored turn (the
 * stream's last event) goes straight into the trace query; the session's detail and the
 * sessions list are refetched. Leaving the session stops reading (the server still stores
 * the turn, and the trace shows it on the next fetch).
 */
export function useSendMessage(sessionId: string) {
  const qc = useQueryClient()
  const [pending, setPending] = useState<Pending | null>(null)
  const [error, setError] = useState<unknown>(null)
  const abort = useRef<AbortController | null>(null)
  useEffect(() => () => abort.current?.abort(), [sessionId])

  const send = useCallback(
    async (body: ChatMessageRequest) => {
      abort.current?.abort()
      const ctrl = new AbortController()
      abort.current = ctrl
      setError(null)
      setPending({ prompt: body.prompt, reply: '', tokens: 0 })
      try {
        const turn = await sendMessage(
          sessionId,
          body,
          (text) => setPending((p) => (p ? { ...p, reply: p.reply + text, tokens: p.tokens + 1 } : p)),
          ctrl.signal,
        )
        qc.setQueryData<ChatTurn[]>(chatKeys.trace(sessionId), (old) => mergeTurn(old ?? [], turn))
        return turn
      } catch (e) {
        if (!ctrl.signal.aborted) setError(e)
        return null
      } finally {
        if (abort.current === ctrl) {
          setPending(null)
          abort.current = null
        }
        void qc.invalidateQueries({ queryKey: chatKeys.detail(sessionId) })
        void qc.invalidateQueries({ queryKey: chatKeys.list })
        if (ctrl.signal.aborted) void qc.invalidateQueries({ queryKey: chatKeys.trace(sessionId) })
      }
    },
    [qc, sessionId],
  )
  return { send, pending, error, busy: pending !== null }
}
