import { describe, expect, it } from 'vitest'
import { fmtAge, fmtCompact, fmtBytes, fmtDuration, fmtInt, fmtNum, fmtPct, relChange, shortHash } from './format'

describe('format', () => {
  it('fmtNum', () => {
    expect(fmtNum(0)).toBe('0')
    expect(fmtNum(0.0456789)).toBe('0.04568')
    expect(fmtNum(123.456)).toBe('123.5')
    expect(fmtNum(0.00012345)).toBe('1.23e-4')
    expect(fmtNum(12345678)).toBe('1.23e7')
    expect(fmtNum(null)).toBe('—')
    expect(fmtNum(NaN)).toBe('NaN')
  })
  it('fmtInt and fmtPct', () => {
    expect(fmtInt(1000000)).toBe('1,000,000')
    expect(fmtPct(0.4234)).toBe('42.3%')
    expect(fmtPct(0.1, 0, true)).toBe('+10%')
    expect(fmtPct(-0.1, 0, true)).toBe('-10%')
    expect(fmtPct(undefined)).toBe('—')
  })
  it('fmtDuration', () => {
    expect(fmtDuration(850)).toBe('850 ms')
    expect(fmtDuration(1250)).toBe('1.25 s')
    expect(fmtDuration(185_000)).toBe('3 min 05 s')
    expect(fmtDuration(2 * 3_600_000 + 3 * 60_000)).toBe('2 h 03 min')
    expect(fmtDuration(3 * 86_400_000)).toBe('3 d 0 h')
    expect(fmtDuration(0.25)).toBe('0.25 ms')
    expect(fmtDuration(-1500)).toBe('-1.5 s')
  })
  it('fmtAge', () => {
    const now = Date.parse('2026-01-02T00:00:00Z')
    expect(fmtAge('2026-01-01T23:59:50Z', now)).toBe('just now')
    expect(fmtAge('2026-01-01T23:30:00Z', now)).toBe('30 min ago')
    expect(fmtAge('2026-01-01T21:00:00Z', now)).toBe('3 h ago')
    expect(fmtAge('2025-12-20T00:00:00Z', now)).toBe('13 d ago')
    expect(fmtAge('garbage', now)).toBe('—')
  })
  it('fmtBytes, shortHash, relChange', () => {
    expect(fmtBytes(512)).toBe('512 B')
    expect(fmtBytes(2048)).toBe('2.0 KiB')
    expect(fmtBytes(5 * 1024 * 1024)).toBe('5.0 MiB')
    expect(shortHash('0123456789abcdef', 6)).toBe('012345…')
    expect(relChange(0.1, 0.05)).toBeCloseTo(-0.5)
    expect(relChange(0, 1)).toBeNull()
  })
  it('fmtCompact', () => {
    expect(fmtCompact(950)).toBe('950')
    expect(fmtCompact(12000)).toBe('12k')
    expect(fmtCompact(250000)).toBe('250k')
    expect(fmtCompact(1_000_000)).toBe('1M')
    expect(fmtCompact(3_500_000)).toBe('3.5M')
    expect(fmtCompact(0.25)).toBe('0.25')
  })
})
