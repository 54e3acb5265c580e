import { useEffect, useState } from 'react'
import { effectiveT, useCursor } from '@/stores/cursor'

/** Current effective cursor (for non-chart views that want it as React state, throttled by rAF). */
export function useEffectiveCursor(): number | null {
  const [t, setT] = useState<number | null>(() => effectiveT(useCursor.getState()))
  useEffect(() => {
    let raf = 0
    const unsub = useCursor.subscribe((s) => {
      cancelAnimationFrame(raf)
      raf = requestAnimationFrame(() => setT(effectiveT(s)))
    })
    return () => {
      unsub()
      cancelAnimationFrame(raf)
    }
  }, [])
  return t
}
