import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '@/api/client'
import type { GenerateOut, GenerateRequest, Job, TextModelList, TextModelSummary, TrainLmRequest } from '@/api/types'

const enc = encodeURIComponent

export const getTextModels = (signal?: AbortSignal) => apiGet<TextModelList>('/text_models', undefined, signal)

/** Text models, newest first; refreshed every few seconds while one is training. */
export function useTextModels() {
  return useQuery({
    queryKey: ['text_models'],
    queryFn: ({ signal }) => getTextModels(signal),
    refetchInterval: (q) => (q.state.data?.items.some((m) => m.status === 'training') ? 3000 : false),
  })
}

export function useStartTraining() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (body: TrainLmRequest) => apiPost<Job>('/text_models/train', body),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['text_models'] }),
  })
}

export function useModelAction() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ id, action }: { id: string; action: 'promote' | 'reject' }) =>
      apiPost<TextModelSummary>(`/text_models/${enc(id)}/${action}`, {}),
    onSettled: () => void qc.invalidateQueries({ queryKey: ['text_models'] }),
  })
}

export function useGenerate() {
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: GenerateRequest }) =>
      apiPost<GenerateOut>(`/text_models/${enc(id)}/generate`, body),
  })
}
