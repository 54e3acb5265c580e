import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiGet, apiPost } from '../client'
import type { TextModelList, TextModelSummary } from '../types'

const enc = encodeURIComponent

/** Sleep candidates are text models too: promoting or rejecting one changes their standing. */
export const sleepKeys = {
  list: ['sleep_candidates'] as const,
  detail: (id: string) => ['sleep_candidate', id] as const,
}

export const getTextModels = (signal?: AbortSignal) => apiGet<TextModelList>('/text_models', undefined, signal)

/** Text models, newest first; refreshed every few seconds while one is training. */
export function useTextModels() {
  return useQuery({
    queryKey: ['text_models'],
    queryFn: ({ signal }) => getTextModels(signal),
    refetchInterval: (q) => (q.state.data?.items.some((m) => m.status === 'training') ? 3000 : false),
  })
}

/** A model a run, session, attack or sleep can use: completed, or a sleep candidate. */
export const isUsable = (m: TextModelSummary) => m.status === 'completed' || m.status === 'sleep_candidate'

/** The usable models, and the one to preselect: `preferred` when usable, else the first. */
export function usableModels(items: TextModelSummary[] | undefined, preferred: string | null | undefined): { usable: TextModelSummary[]; defaultId: string | null } {
  const usable = (items ?? []).filter(isUsable)
  return { usable, defaultId: (usable.find((m) => m.model_id === preferred) ?? usable[0])?.model_id ?? null }
}

/** `usableModels` of the text models list, preferring the default model; `models` is the query. */
export function useUsableModels() {
  const models = useTextModels()
  return { models, ...usableModels(models.data?.items, models.data?.default_model_id) }
}

/** Promote or reject a model (or a sleep candidate). */
export function useModelAction() {
  const qc = useQueryClient()
  return useMutation({
    mutationFn: ({ id, action }: { id: string; action: 'promote' | 'reject' }) => apiPost<TextModelSummary>(`/text_models/${enc(id)}/${action}`, {}),
    onSettled: (_d, _e, { id }) => {
      void qc.invalidateQueries({ queryKey: ['text_models'] })
      void qc.invalidateQueries({ queryKey: sleepKeys.list })
      void qc.invalidateQueries({ queryKey: sleepKeys.detail(id) })
    },
  })
}
