import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiJson, apiPost } from '@/api/client'
import { flaggedKey } from '@/api/queries/flaggedPrompts'
import type {
  ChatCreateRequest,
  ChatDeleted,
  ChatEvents,
  ChatForkRequest,
  ChatProbe,
  ChatProbeRequest,
  ChatSessionDetail,
  ChatSessionList,
  ChatTrace,
  ChatTurn,
  FlaggedPrompt,
} from './types'

const enc = encodeURIComponent
const PAGE = 5000

export const chatKeys = {
  list: ['chat_sessions'] as const,
  detail: (id: string) => ['chat_session', id] as const,
  trace: (id: string) => ['chat_trace', id] as const,
  events: (id: string, turn: number) => ['chat_events', id, turn] as const,
  flagged: flaggedKey,
}

export function useChatSessions() {
  return useQuery({
    queryKey: chatKeys.list,
    queryFn: ({ signal }) => apiGet<ChatSessionList>('/chat/sessions', { limit: 1000 }, signal),
  })
}

export function useChatSession(id: string | null) {
  return useQuery({
    queryKey: chatKeys.detail(id ?? ''),
    queryFn: ({ signal }) => apiGet<ChatSessionDetail>(`/chat/sessions/${enc(id as string)}`, undefined, signal),
    enabled: !!id,
  })
}

/** Every turn of a session (paged through 5,000 at a time). */
export async function getTrace(id: string, signal?: AbortSignal): Promise<ChatTurn[]> {
  const out: ChatTurn[] = []
  for (;;) {
    const page = await apiGet<ChatTrace>(`/chat/sessions/${enc(id)}/trace`, { offset: out.length, limit: PAGE }, signal)
    out.push(...page.items)
    if (!page.items.length || out.length >= page.total) return out
  }
}

export function useChatTrace(id: string | null) {
  return useQuery({
    queryKey: chatKeys.trace(id ?? ''),
    queryFn: ({ signal }) => getTrace(id as string, signal),
    enabled: !!id,
  })
}

/** The full chunk events of one turn (signals, gate scores, canary, SPFW). */
export function useTurnEvents(id: string | null, turn: number | null) {
  return useQuery({
    queryKey: chatKeys.events(id ?? '', turn ?? -1),
    queryFn: ({ signal }) => apiGet<ChatEvents>(`/chat/sessions/${enc(id as string)}/events`, { turn: turn as number, limit: 5000 }, signal),
    enabled: !!id && turn !== null,
  })
}

/** After a write: the session's detail is the answer; the list and trace are refetched. */
function useSessionWrite<V>(fn: (v: V) => Promise<ChatSessionDetail>, opts?: { trace?: boolean }) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: fn,
    onSuccess: (d) => {
      qc.setQueryData(chatKeys.detail(d.session.session_id), d)
      void qc.invalidateQueries({ queryKey: chatKeys.list })
      if (opts?.trace) void qc.invalidateQueries({ queryKey: chatKeys.trace(d.session.session_id) })
    },
  })
}

export function useCreateSession() {
  return useSessionWrite((body: ChatCreateRequest) => apiPost<ChatSessionDetail>('/chat/sessions', body))
}

export function useForkSession(id: string) {
  return useSessionWrite((body: ChatForkRequest) => apiPost<ChatSessionDetail>(`/chat/sessions/${enc(id)}/fork`, body))
}

export function useResetSession(id: string) {
  return useSessionWrite(() => apiPost<ChatSessionDetail>(`/chat/sessions/${enc(id)}/reset`, {}), { trace: true })
}

export function usePatchSafety(id: string) {
  return useSessionWrite((overrides: Record<string, unknown>) => apiJson<ChatSessionDetail>('PATCH', `/chat/sessions/${enc(id)}/safety`, { body: { overrides } }))
}

export function useDeleteSession() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (id: string) => apiJson<ChatDeleted>('DELETE', `/chat/sessions/${enc(id)}`),
    onSuccess: (_d, id) => {
      // drop it from the list at once, so nothing selects the deleted session meanwhile
      qc.setQueryData<ChatSessionList>(chatKeys.list, (old) =>
        old ? { ...old, items: old.items.filter((s) => s.session_id !== id), total: Math.max(0, old.total - 1) } : old,
      )
      void qc.invalidateQueries({ queryKey: chatKeys.list })
    },
  })
}

export function useFlagTurn(id: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ turn, reason }: { turn: number; reason: string }) => apiPost<FlaggedPrompt>(`/chat/sessions/${enc(id)}/turns/${turn}/flag`, { reason }),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: chatKeys.trace(id) })
      void qc.invalidateQueries({ queryKey: chatKeys.detail(id) })
      void qc.invalidateQueries({ queryKey: chatKeys.flagged })
    },
  })
}

/** The memory probe: a question (and the answer expected) with and without the session's
 * fast weights. Read-only on the server: nothing to invalidate. */
export function useProbe(id: string) {
  return useMutation({
    mutationFn: (body: ChatProbeRequest) => apiPost<ChatProbe>(`/chat/sessions/${enc(id)}/probe`, body),
  })
}
