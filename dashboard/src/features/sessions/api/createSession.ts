import { useMutation } from '@tanstack/react-query'
import { apiPost } from '@/api/client'
import type { Job } from '@/api/types'

export interface CreateBody {
  env_mode: 'linear' | 'nonlinear'
  mu?: number
  seed?: number
  base_id?: string
  session_id?: string
}

export const createSession = (body: CreateBody) => apiPost<Job>('/sessions', body)

export function useCreateSession() {
  return useMutation({ mutationFn: createSession })
}
