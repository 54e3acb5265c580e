import { describe, expect, it } from 'vitest'
import type { Job } from '@/api/types'
import { etaMs, jobLink, jobSubject } from './jobs'

const job = (over: Partial<Job>): Job => ({ job_id: 'j', kind: 'run_session', status: 'running', params: {}, progress: { done: 0, total: 0 }, cancel_requested: false, ...over }) as Job

describe('jobs', () => {
  it('ETA from the average rate since the start', () => {
    const j = job({ started_at: '2026-01-01T00:00:00Z', progress: { done: 25, total: 100 } })
    expect(etaMs(j, Date.parse('2026-01-01T00:00:10Z'))).toBe(30_000)
    expect(etaMs(job({ started_at: '2026-01-01T00:00:00Z', progress: { done: 0, total: 100 } }), Date.now())).toBeNull()
    expect(etaMs(job({ status: 'completed', started_at: '2026-01-01T00:00:00Z', progress: { done: 5, total: 10 } }), Date.now())).toBeNull()
  })
  it('links a job to the view of what it works on', () => {
    expect(jobLink(job({ params: { session_id: 's', run_id: 'r' } }))).toBe('/nano/overview?session=s&run=r')
    expect(jobLink(job({ kind: 'run_sweep', params: { sweep_id: 'w' } }))).toBe('/sweeps?sweep=w')
    expect(jobLink(job({ kind: 'selftest' }))).toBeNull()
    expect(jobSubject(job({ params: { session_id: 's', run_id: 'r', steps: 3 } }))).toBe('session s · run r')
  })
})
