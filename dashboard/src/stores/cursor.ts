/**
 * The global time cursor shared by every time chart and the trajectory view.
 *
 * `hover` follows the mouse (transient, set by whichever view is hovered, tagged with its
 * `source` so that view does not redraw its own cursor); `pinned` is set by click, ←/→ and
 * replay, and mirrored into the URL (`t`). Views subscribe imperatively
 * (`useCursor.subscribe`) so hovering never re-renders React trees.
 */
import { create } from 'zustand'

export interface CursorState {
  pinned: number | null
  hover: number | null
  source: string | null
  playing: boolean
  setHover: (t: number | null, source: string) => void
  setPinned: (t: number | null) => void
  setPlaying: (p: boolean) => void
}

export const useCursor = create<CursorState>((set, get) => ({
  pinned: null,
  hover: null,
  source: null,
  playing: false,
  setHover: (t, source) => {
    const s = get()
    if (s.hover === t && s.source === source) return
    set({ hover: t, source: t === null ? null : source })
  },
  setPinned: (t) => {
    if (get().pinned !== t) set({ pinned: t })
  },
  setPlaying: (p) => set({ playing: p }),
}))

/** The cursor position views should show: the hover position, else the pinned one. */
export const effectiveT = (s: Pick<CursorState, 'hover' | 'pinned'>): number | null => s.hover ?? s.pinned
