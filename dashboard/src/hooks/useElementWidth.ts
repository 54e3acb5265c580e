import { useEffect, useState, type RefObject } from 'react'

/**
 * Width of an element, updated on resize (debounced) and rounded down to `step` pixels so
 * data queries keyed on it (points ≈ pixel width) do not refetch on every pixel.
 */
export function useElementWidth(ref: RefObject<HTMLElement | null>, step = 50, delay = 150): number {
  const [w, setW] = useState(0)
  useEffect(() => {
    const el = ref.current
    if (!el) return
    let timer: ReturnType<typeof setTimeout> | undefined
    const measure = () => {
      const width = Math.floor(el.getBoundingClientRect().width / step) * step
      setW((prev) => (prev === width ? prev : width))
    }
    measure()
    const ro = new ResizeObserver(() => {
      clearTimeout(timer)
      timer = setTimeout(measure, delay)
    })
    ro.observe(el)
    return () => {
      clearTimeout(timer)
      ro.disconnect()
    }
  }, [ref, step, delay])
  return w
}
