import { describe, expect, it } from 'vitest'
import { buildConfig, formFromDefaults } from './sentryForm'

const DEFAULTS = {
  config: {
    chunk_tokens: 128, objective: 'ar', safety: 'all', lr: 0.02, canary_max_delta: 0.05, canary_z: 6,
    grad_z: 8, spfw_mode: 'halfspace', spfw_slack: 0, throttle: false, gate: {},
  },
  gate: [
    { key: 'entropy.min_bits', default: 2.5 },
    { key: 'override.enabled', default: true },
    { key: 'ood.loss_z', default: null },
  ],
}

describe('sentry form', () => {
  it('starts from the server defaults and sends them back unchanged (no gate overrides)', () => {
    const f = formFromDefaults(DEFAULTS)
    expect(f.chunk_tokens).toBe('128')
    expect(f.gate['override.enabled']).toBe(true)
    const { config, problems } = buildConfig(f, DEFAULTS)
    expect(problems).toEqual([])
    expect(config).toEqual({
      objective: 'ar', safety: 'all', spfw_mode: 'halfspace', throttle: false, chunk_tokens: 128, lr: 0.02,
      canary_max_delta: 0.05, canary_z: 6, grad_z: 8, spfw_slack: 0,
    })
  })
  it('sends only the gate thresholds that changed', () => {
    const f = formFromDefaults(DEFAULTS)
    f.gate['entropy.min_bits'] = '3'
    f.gate['override.enabled'] = false
    f.gate['ood.loss_z'] = '4.5'
    expect(buildConfig(f, DEFAULTS).config.gate).toEqual({ 'entropy.min_bits': 3, 'override.enabled': false, 'ood.loss_z': 4.5 })
  })
  it('names every bad field and leaves it out', () => {
    const f = { ...formFromDefaults(DEFAULTS), chunk_tokens: '1', lr: '-1', spfw_slack: 'x' }
    f.gate = { ...f.gate, 'entropy.min_bits': 'abc' }
    const { config, problems } = buildConfig(f, DEFAULTS)
    expect(problems).toEqual([
      'chunk tokens: a whole number from 2 to 4096',
      'lr: a number > 0',
      'SPFW slack: a number ≥ 0',
      'gate entropy.min_bits: a number',
    ])
    expect(config.chunk_tokens).toBeUndefined()
    expect(config.lr).toBeUndefined()
  })
})
