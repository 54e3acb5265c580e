import type { Trajectory } from '@/api/types'
import { useEffectiveCursor } from '@/hooks/useEffectiveCursor'
import { nearestIndex } from '@/lib/downsample'
import { fmtInt } from '@/lib/format'
import { useCursor } from '@/stores/cursor'

/** Play/pause and scrub the replay (drives the global cursor, so every view follows). */
export function ReplayControls({ tr }: { tr: Trajectory }) {
  const playing = useCursor((s) => s.playing)
  const t = useEffectiveCursor()
  const n = tr.t.length
  const i = t === null || !n ? 0 : nearestIndex(tr.t, t)
  return (
    <div className="mt-2 flex items-center gap-3 text-xs text-zinc-400" data-testid="replay-controls">
      <button
        type="button"
        onClick={() => {
          const st = useCursor.getState()
          if (!st.playing && (st.pinned === null || st.pinned >= tr.t[n - 1])) st.setPinned(tr.t[0])
          st.setPlaying(!st.playing)
        }}
        aria-pressed={playing}
        className="h-7 rounded border border-zinc-700 px-2.5 text-zinc-100 hover:border-zinc-500"
      >
        {playing ? '❚❚ Pause' : '▶ Replay'}
      </button>
      <label className="flex flex-1 items-center gap-2">
        <span className="sr-only">Scrub replay</span>
        <input
          type="range"
          min={0}
          max={Math.max(0, n - 1)}
          value={i}
          onChange={(e) => {
            const st = useCursor.getState()
            st.setPlaying(false)
            st.setPinned(tr.t[Number(e.target.value)])
          }}
          aria-valuetext={n ? `t ${tr.t[i]}` : undefined}
          className="flex-1 accent-amber-400"
          data-testid="replay-scrub"
        />
      </label>
      <span className="tabular w-28 text-right font-mono text-amber-300">t {n ? fmtInt(tr.t[i]) : '—'}</span>
    </div>
  )
}
