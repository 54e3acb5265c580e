import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { Trajectory } from '../types'

export interface TrajectoryQuery {
  session: string
  run: string
  start?: number | null
  end?: number | null
  points: number
}

export const getTrajectory = (q: TrajectoryQuery, signal?: AbortSignal) =>
  apiGet<Trajectory>(
    `/sessions/${encodeURIComponent(q.session)}/runs/${encodeURIComponent(q.run)}/trajectory`,
    { start: q.start, end: q.end, points: Math.round(q.points) },
    signal,
  )

export function useTrajectory(q: Partial<TrajectoryQuery> & { points: number }, enabled = true) {
  return useQuery({
    queryKey: ['trajectory', q.session, q.run, q.start ?? null, q.end ?? null, q.points],
    queryFn: ({ signal }) => getTrajectory(q as TrajectoryQuery, signal),
    enabled: enabled && !!q.session && !!q.run,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  })
}
