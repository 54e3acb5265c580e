import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { Page, SessionSummary } from '../types'

export interface SessionsQuery {
  offset?: number
  limit?: number
  sort?: string
}

export const getSessions = (q: SessionsQuery, signal?: AbortSignal) =>
  apiGet<Page<SessionSummary>>('/sessions', { offset: q.offset, limit: q.limit, sort: q.sort }, signal)

export function useSessions(q: SessionsQuery = {}, opts: { live?: boolean } = {}) {
  return useQuery({
    queryKey: ['sessions', q],
    queryFn: ({ signal }) => getSessions(q, signal),
    placeholderData: keepPreviousData,
    refetchInterval: opts.live ? 5_000 : false,
  })
}
