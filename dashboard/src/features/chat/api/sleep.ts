import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import type { SleepCandidateDetail, SleepCandidateList, SleepDefaults, SleepStarted, SleepStartRequest, TextModelSummary } from './types'

const enc = encodeURIComponent

export const sleepKeys = {
  list: ['sleep_candidates'] as const,
  detail: (id: string) => ['sleep_candidate', id] as const,
}

export function useSleepCandidates() {
  return useQuery({
    queryKey: sleepKeys.list,
    queryFn: ({ signal }) => apiGet<SleepCandidateList>('/sleep', undefined, signal),
  })
}

export function useSleepCandidate(id: string | null) {
  return useQuery({
    queryKey: sleepKeys.detail(id ?? ''),
    queryFn: ({ signal }) => apiGet<SleepCandidateDetail>(`/sleep/${enc(id as string)}`, undefined, signal),
    enabled: !!id,
  })
}

export function useSleepDefaults() {
  return useQuery({
    queryKey: ['sleep_defaults'],
    queryFn: ({ signal }) => apiGet<SleepDefaults>('/sleep/_defaults', undefined, signal),
    staleTime: Infinity,
  })
}

export function useStartSleep() {
  return useMutation({ mutationFn: (body: SleepStartRequest) => apiPost<SleepStarted>('/sleep', body) })
}

/** Promote or reject a candidate (the text models' own routes). */
export function useDecideCandidate(id: string) {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (action: 'promote' | 'reject') => apiPost<TextModelSummary>(`/text_models/${enc(id)}/${action}`, {}),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: sleepKeys.list })
      void qc.invalidateQueries({ queryKey: sleepKeys.detail(id) })
      void qc.invalidateQueries({ queryKey: ['text_models'] })
    },
  })
}
