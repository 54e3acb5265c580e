import { useCallback, useMemo } from 'react'
import { useSearchParams } from 'react-router'
import { parseChatView, serializeChatView, type ChatView } from '../lib/chatView'

/** The Chat area's view state from the URL plus a patch function (replace unless `push`). */
export function useChatView(): [ChatView, (patch: Partial<ChatView>, opts?: { push?: boolean }) => void] {
  const [params, setParams] = useSearchParams()
  const view = useMemo(() => parseChatView(params), [params])
  const patch = useCallback(
    (p: Partial<ChatView>, opts?: { push?: boolean }) =>
      setParams((prev) => serializeChatView({ ...parseChatView(prev), ...p }, prev), { replace: !opts?.push }),
    [setParams],
  )
  return [view, patch]
}
