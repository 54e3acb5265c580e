import { useMemo } from 'react'
import { TimeChart } from '@/components/charts/TimeChart'
import type { ChatTurn } from '../api/types'
import { normSeries, turnMarkerStatus } from '../lib/turns'

/** ‖W − W₀‖ after each turn, with the turn's outcome as a marker (shape and colour). Click a turn to open it. */
export function NormChart({ sessionId, turns, onPick }: { sessionId: string; turns: ChatTurn[]; onPick: (t: number) => void }) {
  const s = useMemo(() => normSeries(turns), [turns])
  const markers = useMemo(() => turns.map((t) => ({ t: t.turn, status: turnMarkerStatus(t) })), [turns])
  if (!turns.length) return <p className="py-6 text-center text-sm text-zinc-400">The chart starts with the first turn.</p>
  const blocked = turns.filter((t) => t.blocked).length
  return (
    <TimeChart
      id="chat-norm-chart"
      ariaLabel={`Fast-weight norm after each of ${turns.length} turns of session ${sessionId} (${blocked} with a blocked chunk)`}
      x={s.x}
      series={[{ key: 'fast_weight_norm', label: '‖W − W₀‖ (Frobenius)', color: '#22d3ee', values: s.norm, width: 1.8, points: true, step: false }]}
      markers={markers}
      xRange={s.x.length < 5 ? [s.x[0], s.x[0] + 4] : undefined}
      xLabel="turn"
      yLabel="norm"
      height={200}
      syncCursor={false}
      onPick={onPick}
      exportName={`${sessionId}-fast-weight-norm`}
      dataAttrs={{ session: sessionId, blocked, last: s.norm[s.norm.length - 1] ?? '' }}
    />
  )
}
