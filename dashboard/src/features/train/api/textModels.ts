import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiPost } from '@/api/client'
import type { GenerateOut, GenerateRequest, Job, TrainLmRequest } from '@/api/types'

const enc = encodeURIComponent

export function useStartTraining() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: (body: TrainLmRequest) => apiPost<Job>('/text_models/train', body),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['text_models'] }),
  })
}

export function useGenerate() {
  return useMutation({
    mutationFn: ({ id, body }: { id: string; body: GenerateRequest }) =>
      apiPost<GenerateOut>(`/text_models/${enc(id)}/generate`, body),
  })
}
