import { describe, expect, it } from 'vitest'
import { diverging, symmetricLimit, timeColor } from './colormap'
import { toCsv } from './csv'
import { histogram } from './histogram'
import { chartToSvg } from './svg'

describe('colormap', () => {
  it('is centred at zero and symmetric in hue', () => {
    const c = diverging(0, 1)
    expect(c.every((v) => v > 240)).toBe(true)
    const neg = diverging(-1, 1)
    const pos = diverging(1, 1)
    expect(neg[2]).toBeGreaterThan(neg[0])
    expect(pos[0]).toBeGreaterThan(pos[2])
    expect(diverging(5, 1)).toEqual(diverging(1, 1))
  })
  it('time colour runs blue to red', () => {
    expect(timeColor(0)[2]).toBeGreaterThan(timeColor(0)[0])
    expect(timeColor(1)[0]).toBeGreaterThan(timeColor(1)[2])
  })
  it('symmetric limit', () => {
    expect(symmetricLimit([1, -3, 2])).toBe(3)
    expect(symmetricLimit([0, 0])).toBe(1)
  })
})

describe('histogram', () => {
  it('counts and clamps', () => {
    const h = histogram([0.05, 0.15, 0.15, 0.99, 2, NaN], 10, 0, 1)
    expect(h.counts[0]).toBe(1)
    expect(h.counts[1]).toBe(2)
    expect(h.counts[9]).toBe(2)
    expect(h.edges.length).toBe(11)
  })
})

describe('csv', () => {
  it('quotes and formats', () => {
    expect(toCsv({ t: [0, 1], s: ['a,b', null], v: [0.5, NaN] })).toBe('t,s,v\n0,"a,b",0.5\n1,,\n')
  })
})

describe('svg export', () => {
  it('serialises series and markers', () => {
    const svg = chartToSvg({
      title: 'MSE <test>',
      x: [0, 1, 2],
      series: [{ label: 'adaptive', color: '#0ff', values: [1, 0.5, null] }],
      log: true,
      markers: { t: [1], status: ['rollback_loss_regression'] },
    })
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('MSE &lt;test&gt;')
    expect(svg).toMatch(/<path d="M[0-9.]+,[0-9.]+L[0-9.]+,[0-9.]+"/)
    expect(svg).toContain('#f87171')
  })
})
