import { useCallback, useMemo } from 'react'
import { useSearchParams } from 'react-router'
import { parseTextView, serializeTextView, type TextView } from '../lib/textView'

/** The Text area's view state from the URL plus a patch function (replace unless `push`). */
export function useTextView(): [TextView, (patch: Partial<TextView>, opts?: { push?: boolean }) => void] {
  const [params, setParams] = useSearchParams()
  const view = useMemo(() => parseTextView(params), [params])
  const patch = useCallback(
    (p: Partial<TextView>, opts?: { push?: boolean }) =>
      setParams((prev) => serializeTextView({ ...parseTextView(prev), ...p }, prev), { replace: !opts?.push }),
    [setParams],
  )
  return [view, patch]
}
