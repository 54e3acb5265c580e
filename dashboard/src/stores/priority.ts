/**
 * Load ordering for big runs: the Overview's MSE chart is the critical path, so secondary
 * requests (sparklines, event counts) wait until its first window has arrived. On a cold
 * server both would otherwise parse large files at once and delay the chart.
 */
import { create } from 'zustand'

interface PriorityState {
  /** runs whose primary chart has data */
  ready: Record<string, true>
  markReady: (runKey: string) => void
}

export const usePriority = create<PriorityState>((set, get) => ({
  ready: {},
  markReady: (k) => {
    if (!get().ready[k]) set((s) => ({ ready: { ...s.ready, [k]: true } }))
  },
}))

export const runKey = (session: string | null, run: string | null) => `${session ?? ''}/${run ?? ''}`
