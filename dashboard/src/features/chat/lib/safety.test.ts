import { describe, expect, it } from 'vitest'
import { defences } from './safety'

describe('safety modes', () => {
  it('map to the defences SentryConfig runs', () => {
    expect(defences('all')).toEqual({ gate: true, rollback: true, spfw: true })
    expect(defences('off')).toEqual({ gate: false, rollback: false, spfw: false })
    expect(defences('gate')).toEqual({ gate: true, rollback: false, spfw: false })
    expect(defences('rollback')).toEqual({ gate: false, rollback: true, spfw: false })
    expect(defences('spfw')).toEqual({ gate: false, rollback: false, spfw: true })
    expect(defences('bogus')).toEqual({ gate: false, rollback: false, spfw: false })
  })
})
