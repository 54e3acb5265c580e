import { useQuery } from '@tanstack/react-query'
import { apiGet } from '@/api/client'
import type { BenchmarkList, BenchmarkResult } from '@/api/types'

export const useBenchmarks = () =>
  useQuery({
    queryKey: ['benchmarks'],
    queryFn: ({ signal }) => apiGet<BenchmarkList>('/benchmarks', { limit: 1000 }, signal),
  })

export const useBenchmark = (id: string | null) =>
  useQuery({
    queryKey: ['benchmark', id],
    queryFn: ({ signal }) => apiGet<BenchmarkResult>(`/benchmarks/${encodeURIComponent(id as string)}`, undefined, signal),
    enabled: !!id,
  })
