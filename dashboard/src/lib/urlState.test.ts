import { describe, expect, it } from 'vitest'
import { DEFAULT_VIEW, parseViewState, patchSearch, serializeViewState } from './urlState'

describe('url state', () => {
  it('defaults on empty', () => {
    expect(parseViewState('')).toEqual(DEFAULT_VIEW)
  })
  it('round-trips', () => {
    const s = {
      ...DEFAULT_VIEW,
      session: 's-1',
      run: 'run_0002',
      t: 1234,
      from: 100,
      to: 5000,
      status: ['commit', 'rollback_grad_norm'],
      log: false,
      smooth: true,
      k: 3,
      event: 96,
      compare: ['a', 'b'],
      sort: '-grad_norm',
    }
    const q = serializeViewState(s).toString()
    expect(parseViewState(q)).toEqual(s)
  })
  it('omits defaults and keeps unknown params', () => {
    const q = serializeViewState({ ...DEFAULT_VIEW, session: 'x' }, 'foo=bar&t=5').toString()
    expect(q).toBe('session=x&foo=bar')
  })
  it('rejects invalid values', () => {
    const v = parseViewState('session=../etc&t=-3&from=10&to=5&status=commit,bogus&k=1.5&sort=drop%20table')
    expect(v.session).toBeNull()
    expect(v.t).toBeNull()
    expect(v.from).toBeNull()
    expect(v.to).toBeNull()
    expect(v.status).toEqual(['commit'])
    expect(v.k).toBeNull()
    expect(v.sort).toBeNull()
  })
  it('patches', () => {
    expect(patchSearch('session=a&t=3', { t: 7, from: 0, to: 10 })).toBe('session=a&t=7&from=0&to=10')
    expect(patchSearch('session=a&t=3', { t: null })).toBe('session=a')
  })
})
