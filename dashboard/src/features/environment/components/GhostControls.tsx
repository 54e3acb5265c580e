import { useState } from 'react'
import { errorMessage } from '@/api/client'
import type { Ghost, SessionMeta, Trajectory } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtNum } from '@/lib/format'
import { useGhost } from '../api/ghost'

/** "What if μ were different?" — re-simulates the same actions under another μ. */
export function GhostControls({
  sessionId,
  runId,
  meta,
  tr,
  ghost,
  onGhost,
}: {
  sessionId: string
  runId: string
  meta: SessionMeta
  tr: Trajectory
  ghost: (Ghost & { mu: number }) | null
  onGhost: (g: (Ghost & { mu: number }) | null) => void
}) {
  const env = (meta.env_cfg ?? {}) as Record<string, unknown>
  const lo = typeof env.mu_min === 'number' ? env.mu_min : 0.02
  const hi = typeof env.mu_max === 'number' ? env.mu_max : 0.25
  const [mu, setMu] = useState(() => Number((meta.mu > (lo + hi) / 2 ? lo + (hi - lo) * 0.15 : hi - (hi - lo) * 0.15).toFixed(3)))
  const m = useGhost(sessionId)
  return (
    <div className="space-y-2" data-testid="ghost-controls">
      <p className="text-xs text-zinc-400">Replay the same actions from the same start under another μ: how different would the path be?</p>
      <div className="flex flex-wrap items-center gap-2">
        <label className="flex items-center gap-2 text-xs text-zinc-300">
          ghost μ
          <input type="range" min={lo} max={hi} step={0.001} value={mu} onChange={(e) => setMu(Number(e.target.value))} className="w-32 accent-zinc-200" />
          <input
            type="number"
            min={0}
            step={0.001}
            value={mu}
            onChange={(e) => setMu(Number(e.target.value))}
            className="h-7 w-20 rounded border border-zinc-700 bg-zinc-900 px-1.5 font-mono text-zinc-100"
            aria-label="ghost μ value"
          />
        </label>
        <Button
          onClick={() =>
            m.mutate(
              { mu, run_id: runId, start: tr.t[0], end: tr.t[tr.t.length - 1] + 1 },
              { onSuccess: (g) => onGhost({ ...g, mu }) },
            )
          }
          disabled={m.isPending || !tr.t.length}
        >
          {m.isPending ? 'Simulating…' : 'Simulate ghost'}
        </Button>
        {ghost && (
          <Button onClick={() => onGhost(null)}>Clear ghost</Button>
        )}
      </div>
      {ghost && <p className="text-xs text-zinc-300" data-testid="ghost-info">Ghost shown dotted: μ = {fmtNum(ghost.mu, 4)} ({ghost.t.length} steps) vs the true μ = {fmtNum(meta.mu, 4)}.</p>}
      {m.error && (
        <p role="alert" className="text-xs text-red-300" data-testid="ghost-error">
          Ghost simulation failed: {errorMessage(m.error)}
        </p>
      )}
    </div>
  )
}
