import { useQuery } from '@tanstack/react-query'
import { getEvents } from '@/api/queries/events'
import { useEventAt } from '@/api/queries/eventSearch'
import { EventDetail } from '@/components/nano/EventDetail'
import { SlideOver } from '@/components/ui/SlideOver'
import { ErrorState, Loading } from '@/components/ui/States'
import { Button } from '@/components/ui/Toggle'
import { fmtInt } from '@/lib/format'

/** t of the event at a position in the t-sorted list (for prev/next). */
function useTAt(session: string, run: string, offset: number | null, total: number | undefined) {
  return useQuery({
    queryKey: ['events', session, run, 'tAt', offset],
    queryFn: ({ signal }) => getEvents({ session, run, offset: offset as number, limit: 1, sort: 't' }, signal).then((p) => p.items[0]?.t ?? null),
    enabled: offset !== null && offset >= 0 && total !== undefined && offset < total,
    staleTime: Infinity,
  })
}

/** Slide-out with one update event, prev/next through the run's attempts. */
export function EventPanel({
  sessionId,
  runId,
  t,
  onSelect,
  onClose,
}: {
  sessionId: string
  runId: string
  t: number
  onSelect: (t: number) => void
  onClose: () => void
}) {
  const q = useEventAt(sessionId, runId, t)
  const idx = q.data?.index ?? null
  const found = !!q.data?.event
  const prev = useTAt(sessionId, runId, idx === null ? null : idx - 1, q.data?.total)
  const next = useTAt(sessionId, runId, idx === null ? null : found ? idx + 1 : idx, q.data?.total)
  return (
    <SlideOver title={`Update attempt at t ${fmtInt(t)}`} onClose={onClose} testId="event-panel">
      <div className="mb-3 flex items-center gap-2">
        <Button onClick={() => prev.data != null && onSelect(prev.data)} disabled={prev.data == null}>
          ← prev
        </Button>
        <Button onClick={() => next.data != null && onSelect(next.data)} disabled={next.data == null}>
          next →
        </Button>
        {q.data && (
          <span className="text-[11px] text-zinc-500" data-testid="event-position" data-position={found ? q.data.index + 1 : ''} data-total={q.data.total}>
            {found ? `attempt ${fmtInt(q.data.index + 1)} of ${fmtInt(q.data.total)} in this run` : `between attempts ${fmtInt(q.data.index)} and ${fmtInt(q.data.index + 1)} of ${fmtInt(q.data.total)}`}
          </span>
        )}
      </div>
      {q.error ? (
        <ErrorState error={q.error} what="the event" />
      ) : q.isPending ? (
        <Loading what="event" />
      ) : q.data?.event ? (
        <EventDetail ev={q.data.event} />
      ) : (
        <p className="text-sm text-zinc-400">No update attempt at t {fmtInt(t)}.</p>
      )}
    </SlideOver>
  )
}
