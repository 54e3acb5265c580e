import { useMutation, useQuery } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import { sleepKeys } from '@/api/queries/textModels'
import type { SleepCandidateDetail, SleepCandidateList, SleepDefaults, SleepStarted, SleepStartRequest } from './types'

const enc = encodeURIComponent

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
