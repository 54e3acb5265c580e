import { describe, expect, it } from 'vitest'
import { STATUS_ORDER, isKnownStatus, markerSvgPath, statusStyle } from './status'

describe('statusStyle', () => {
  it('gives every known status a distinct shape and colour', () => {
    const shapes = new Set(STATUS_ORDER.map((s) => statusStyle(s).shape))
    const colors = new Set(STATUS_ORDER.map((s) => statusStyle(s).color))
    expect(shapes.size).toBe(STATUS_ORDER.length)
    expect(colors.size).toBe(STATUS_ORDER.length)
  })
  it('maps the documented glyphs', () => {
    expect(statusStyle('commit').glyph).toBe('●')
    expect(statusStyle('rollback_loss_regression').glyph).toBe('▲')
    expect(statusStyle('rollback_grad_norm').glyph).toBe('■')
    expect(statusStyle('rollback_state_norm').glyph).toBe('◆')
    expect(statusStyle('rollback_canary').glyph).toBe('✕')
    expect(statusStyle('blocked_gate').glyph).toBe('⬟')
    expect(statusStyle('commit').rollback).toBe(false)
    expect(statusStyle('rollback_canary').rollback).toBe(true)
  })
  it('handles unknown statuses', () => {
    expect(statusStyle('weird').label).toBe('weird')
    expect(isKnownStatus('weird')).toBe(false)
    expect(isKnownStatus('commit')).toBe(true)
  })
  it('builds svg paths', () => {
    for (const s of STATUS_ORDER) expect(markerSvgPath(statusStyle(s).shape, 5, 5, 3)).toMatch(/^M/)
  })
})
