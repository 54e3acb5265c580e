import { useQuery } from '@tanstack/react-query'
import { apiGet } from '../client'
import type { FlaggedPromptList } from '../types'

export const flaggedKey = ['flagged_prompts'] as const

/** flagged_prompts.json: prompts flagged for review (in Chat, or by sleep's auditor). */
export function useFlaggedPrompts() {
  return useQuery({
    queryKey: flaggedKey,
    queryFn: ({ signal }) => apiGet<FlaggedPromptList>('/flagged_prompts', undefined, signal),
  })
}
