import { useEffect, useRef } from 'react'
import type { ViewState } from '@/lib/urlState'
import { useCursor } from '@/stores/cursor'

/** Mirrors the pinned cursor into the URL (`t`, debounced) and URL changes back into the store. */
export function useCursorUrlSync(urlT: number | null, patch: (p: Partial<ViewState>) => void) {
  const lastWritten = useRef<number | null | undefined>(undefined)
  useEffect(() => {
    if (urlT !== lastWritten.current) {
      lastWritten.current = urlT
      useCursor.getState().setPinned(urlT)
    }
  }, [urlT])
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const unsub = useCursor.subscribe((s, prev) => {
      if (s.pinned === prev.pinned) return
      clearTimeout(timer)
      timer = setTimeout(() => {
        const t = useCursor.getState().pinned
        if (t !== lastWritten.current) {
          lastWritten.current = t
          patch({ t })
        }
      }, s.playing ? 600 : 250)
    })
    return () => {
      unsub()
      clearTimeout(timer)
    }
  }, [patch])
}

const TYPING = new Set(['INPUT', 'SELECT', 'TEXTAREA'])

/**
 * ←/→ step the global cursor (Shift: ×10) through the visible window; Home/End jump to its
 * ends. Ignored while typing, on tabs (they use arrows themselves) and on sliders.
 */
export function useTimeKeys(domain: [number, number] | null, view: ViewState) {
  const ref = useRef({ domain, view })
  ref.current = { domain, view }
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return
      const el = e.target as HTMLElement | null
      if (el && (TYPING.has(el.tagName) || el.isContentEditable)) return
      const role = el?.getAttribute?.('role')
      if (role === 'tab' || role === 'slider' || role === 'grid' || role === 'row') return
      const { domain: d, view: v } = ref.current
      if (!d) return
      const lo = v.from ?? d[0]
      const hi = (v.to ?? d[1]) - 1
      const step = Math.max(1, Math.round((hi - lo) / 500)) * (e.shiftKey ? 10 : 1)
      const st = useCursor.getState()
      const cur = st.pinned ?? st.hover ?? lo
      let next: number | null = null
      if (e.key === 'ArrowRight') next = Math.min(hi, cur + step)
      else if (e.key === 'ArrowLeft') next = Math.max(lo, cur - step)
      else if (e.key === 'Home') next = lo
      else if (e.key === 'End') next = hi
      if (next === null) return
      e.preventDefault()
      st.setPlaying(false)
      st.setPinned(next)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
}
