import { useEffect, useRef } from 'react'
import { apiUrl } from './client'

export type SseHandlers = Record<string, (data: unknown) => void>

/**
 * Subscribes to a Server-Sent Events endpoint while `path` is non-null. Handlers receive the
 * parsed JSON `data` of each named event; the latest handlers are always used without
 * reconnecting. `onOpenChange` reports whether the stream is connected.
 */
export function useEventSource(path: string | null, handlers: SseHandlers, onOpenChange?: (open: boolean) => void) {
  const ref = useRef(handlers)
  const openRef = useRef(onOpenChange)
  ref.current = handlers
  openRef.current = onOpenChange
  const names = Object.keys(handlers).sort().join(',')
  useEffect(() => {
    if (!path) return
    const es = new EventSource(apiUrl(path))
    const listeners = names
      .split(',')
      .filter(Boolean)
      .map((name) => {
        const fn = (e: MessageEvent) => {
          let data: unknown = e.data
          try {
            data = JSON.parse(e.data as string)
          } catch {
            /* plain-text payload */
          }
          ref.current[name]?.(data)
        }
        es.addEventListener(name, fn as EventListener)
        return [name, fn] as const
      })
    es.onopen = () => openRef.current?.(true)
    es.onerror = () => openRef.current?.(false)
    return () => {
      for (const [n, fn] of listeners) es.removeEventListener(n, fn as EventListener)
      es.close()
      openRef.current?.(false)
    }
  }, [path, names])
}
