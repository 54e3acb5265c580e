import { describe, expect, it } from 'vitest'
import { buildConfig, formFromDefaults, withBackendDefaults } from './sentryForm'

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

describe('backend defaults', () => {
  const d = {
    config: { chunk_tokens: 128, objective: 'ar', safety: 'all', lr: 0.02, canary_max_delta: 0.05, canary_z: 6, grad_z: 8, spfw_mode: 'halfspace', spfw_slack: 0, throttle: false },
    backend_defaults: { hf: { optimizer: 'muon', lr: 0.002 } },
    gate: [],
  }

  it('starts a run on an HF model from its backend lr and a TinyLm from the general one', () => {
    expect(formFromDefaults(d, 'hf').lr).toBe('0.002')
    expect(formFromDefaults(d, 'tinylm').lr).toBe('0.02')
    expect(formFromDefaults(d).lr).toBe('0.02')
  })

  it('switching the model to another backend resets only the backend-specific fields', () => {
    const edited = { ...formFromDefaults(d, 'tinylm'), canary_z: '4', lr: '0.05' }
    const hf = withBackendDefaults(edited, d, 'hf')
    expect(hf.lr).toBe('0.002')
    expect(hf.canary_z).toBe('4') // not backend-specific: kept as edited
    expect(withBackendDefaults(hf, d, 'tinylm').lr).toBe('0.02')
    expect(buildConfig(hf, d).config.lr).toBe(0.002)
  })
})
