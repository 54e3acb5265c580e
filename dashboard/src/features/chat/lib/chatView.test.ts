import { describe, expect, it } from 'vitest'
import { DEFAULT_CHAT_VIEW, parseChatView, serializeChatView } from './chatView'

describe('chat view state', () => {
  it('round-trips every field', () => {
    const v = { tab: 'sleep' as const, session: 'chat-1', turn: 3, candidate: 'sleep-x' }
    expect(parseChatView(serializeChatView(v))).toEqual(v)
    expect(serializeChatView(v).toString()).toBe('tab=sleep&session=chat-1&turn=3&candidate=sleep-x')
    expect(parseChatView('turn=0').turn).toBe(0)
  })
  it('falls back to defaults on invalid values', () => {
    expect(parseChatView('tab=evil&session=../x&turn=-1&candidate=.hidden')).toEqual(DEFAULT_CHAT_VIEW)
    expect(parseChatView('turn=1.5').turn).toBeNull()
    expect(parseChatView('turn=1e3').turn).toBeNull()
  })
  it('writes nothing for the defaults and keeps unrelated params', () => {
    expect(serializeChatView(DEFAULT_CHAT_VIEW, 'foo=1&tab=sleep&turn=2').toString()).toBe('foo=1')
  })
})
