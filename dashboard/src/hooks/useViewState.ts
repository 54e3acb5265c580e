import { useCallback, useMemo } from 'react'
import { useSearchParams } from 'react-router'
import { parseViewState, serializeViewState, type ViewState } from '@/lib/urlState'

/** View state from the URL plus a patch function (replace by default: no history spam). */
export function useViewState(): [ViewState, (patch: Partial<ViewState>, opts?: { push?: boolean }) => void] {
  const [params, setParams] = useSearchParams()
  const state = useMemo(() => parseViewState(params), [params])
  const patch = useCallback(
    (p: Partial<ViewState>, opts?: { push?: boolean }) => {
      setParams(
        (prev) => {
          const cur = parseViewState(prev)
          return serializeViewState({ ...cur, ...p }, prev)
        },
        { replace: !opts?.push },
      )
    },
    [setParams],
  )
  return [state, patch]
}
