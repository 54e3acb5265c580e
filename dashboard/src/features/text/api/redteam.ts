import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import type {
  RedTeamAttempts,
  RedTeamDetail,
  RedTeamIterations,
  RedTeamList,
  RedTeamStarted,
  RedTeamStartRequest,
} from './types'

const enc = encodeURIComponent

export const redteamKeys = {
  list: ['redteam'] as const,
  detail: (id: string) => ['redteam_run', id] as const,
  iterations: (id: string) => ['redteam_iterations', id] as const,
  attempts: (id: string) => ['redteam_attempts', id] as const,
}

export function useRedTeamRuns() {
  return useQuery({
    queryKey: redteamKeys.list,
    queryFn: ({ signal }) => apiGet<RedTeamList>('/redteam', { limit: 1000 }, signal),
    refetchInterval: (q) => (q.state.data?.items.some((r) => r.status === 'running') ? 3000 : false),
  })
}

/** A run's request and summary (`wait`: not yet, its job was just started and the run is not
 * on disk; the run's stream says when it is). */
export function useRedTeamRun(id: string | null, wait = false) {
  return useQuery({
    queryKey: redteamKeys.detail(id ?? ''),
    queryFn: ({ signal }) => apiGet<RedTeamDetail>(`/redteam/${enc(id as string)}`, undefined, signal),
    enabled: !!id && !wait,
  })
}

export function useRedTeamIterations(id: string | null) {
  return useQuery({
    queryKey: redteamKeys.iterations(id ?? ''),
    queryFn: ({ signal }) => apiGet<RedTeamIterations>(`/redteam/${enc(id as string)}/iterations`, undefined, signal),
    enabled: !!id,
  })
}

/** Every attempt of a run, in query order (the table filters and sorts them). */
export function useRedTeamAttempts(id: string | null) {
  return useQuery({
    queryKey: redteamKeys.attempts(id ?? ''),
    queryFn: ({ signal }) => apiGet<RedTeamAttempts>(`/redteam/${enc(id as string)}/attempts`, { limit: 5000 }, signal),
    enabled: !!id,
  })
}

export function useStartRedTeam() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (body: RedTeamStartRequest) => apiPost<RedTeamStarted>('/redteam', body),
    onSuccess: () => void qc.invalidateQueries({ queryKey: redteamKeys.list }),
  })
}
