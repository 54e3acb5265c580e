/**
 * Types of the Text (Sentry) and red-team API, re-exported from the generated schema under
 * short names (the server's OpenAPI is the contract).
 */
import type { components } from '@/api/schema'

type S = components['schemas']

/** Drops a `[key: string]: unknown` index signature ("unknown fields pass through"). */
type KnownKeys<T> = { [K in keyof T as string extends K ? never : K]: T[K] }

export type TextRunSummary = S['TextRunSummary']
export type TextRunStatus = TextRunSummary['status']
export type TextRunList = S['TextRunList']
export type TextRunDetail = Omit<S['TextRunDetail'], 'request'> & { request: KnownKeys<S['TextRunRequestInfo']> }
export type SentryEvent = KnownKeys<S['SentryEvent']>
export type TextRunEvents = Omit<S['TextRunEvents'], 'items'> & { items: SentryEvent[] }
export type TextRunSeries = S['TextRunSeries']
export type SentryRunRequest = S['SentryRunRequest']
export type TextRunStarted = S['TextRunStarted']
export type TextRunStreamStatus = S['TextRunStreamStatus']

export type RedTeamSummary = S['RedTeamSummary']
export type RedTeamList = S['RedTeamList']
export type RedTeamDetail = Omit<S['RedTeamDetail'], 'request'> & { request: KnownKeys<S['RedTeamRequestInfo']> }
export type RedTeamIteration = KnownKeys<S['RedTeamIteration']>
export type RedTeamIterations = Omit<S['RedTeamIterations'], 'items'> & { items: RedTeamIteration[] }
export type RedTeamAttempt = KnownKeys<S['RedTeamAttempt']>
export type RedTeamAttempts = Omit<S['RedTeamAttempts'], 'items'> & { items: RedTeamAttempt[] }
export type RedTeamStartRequest = S['RedTeamStartRequest']
export type RedTeamStarted = S['RedTeamStarted']
export type RedTeamStreamStatus = S['RedTeamStreamStatus']
