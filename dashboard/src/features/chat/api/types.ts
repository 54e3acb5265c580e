/**
 * Types of the chat and sleep API, re-exported from the generated schema under short names
 * (the server's OpenAPI is the contract).
 */
import type { components } from '@/api/schema'

type S = components['schemas']

/** Drops a `[key: string]: unknown` index signature ("unknown fields pass through"). */
type KnownKeys<T> = { [K in keyof T as string extends K ? never : K]: T[K] }

export type ChatGateDecision = KnownKeys<S['ChatGateDecision']>
export type ChatUpdate = KnownKeys<S['ChatUpdate']>
export type ChatTurn = Omit<KnownKeys<S['ChatTurn']>, 'gate' | 'updates'> & { gate: ChatGateDecision[]; updates: ChatUpdate[] }
export type ChatParent = KnownKeys<S['ChatParent']>
export type ChatSessionSummary = S['ChatSessionSummary']
export type ChatSessionList = S['ChatSessionList']
export type ChatSessionInfo = KnownKeys<S['ChatSessionInfo']>
export type ChatStats = Omit<S['ChatStats'], 'last_turn'> & { last_turn?: ChatTurn | null }
export type ChatSessionDetail = { session: ChatSessionInfo; stats: ChatStats }
export type ChatTrace = Omit<S['ChatTrace'], 'items'> & { items: ChatTurn[] }
export type ChatEvent = KnownKeys<S['ChatEvent']>
export type ChatEvents = Omit<S['ChatEvents'], 'items'> & { items: ChatEvent[] }
export type ChatCreateRequest = S['ChatCreateRequest']
export type ChatMessageRequest = S['ChatMessageRequest']
export type ChatForkRequest = S['ChatForkRequest']
export type ChatDeleted = S['ChatDeleted']
export type ChatSafetyPatch = S['ChatSafetyPatch']
export type ChatProbeRequest = S['ChatProbeRequest']
export type ChatProbe = S['ChatProbe']
export type ChatProbeSide = S['ChatProbeSide']
export type { FlaggedPrompt } from '@/api/types'

export type SleepStartRequest = S['SleepStartRequest']
export type SleepStarted = S['SleepStarted']
export type SleepDefaults = S['SleepDefaults']
export type SleepCandidateSummary = S['SleepCandidateSummary']
export type SleepCandidateList = S['SleepCandidateList']
export type SleepMemory = KnownKeys<S['SleepMemory']>
export type SleepLosses = KnownKeys<S['SleepLosses']>
export type SleepMetricsCore = Omit<KnownKeys<S['SleepMetricsCore']>, 'before' | 'after'> & { before: SleepLosses; after: SleepLosses }
export type SleepMetrics = SleepMetricsCore & { baseline_replay?: SleepMetricsCore | null }
export type SleepManifest = Omit<KnownKeys<S['SleepManifest']>, 'memories' | 'metrics'> & { memories?: SleepMemory[]; metrics?: SleepMetrics | null }
export type SleepCandidateDetail = { summary: SleepCandidateSummary; manifest: SleepManifest }
