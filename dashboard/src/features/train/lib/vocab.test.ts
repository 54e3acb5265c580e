import { describe, expect, it } from 'vitest'
import type { TextModelSummary } from '@/api/types'
import { groupByTokenizer, mixedCorpora } from './vocab'

const m = (id: string, vocab: number, tok: string | null, corpus = 'c1') =>
  ({ model_id: id, status: 'completed', vocab_size: vocab, tokenizer_sha256: tok, corpus_sha256: corpus }) as TextModelSummary

describe('groupByTokenizer', () => {
  it('never puts models with different tokenizers in one group', () => {
    const gs = groupByTokenizer([m('a', 300, 't1'), m('b', 2048, 't2'), m('c', 300, 't1'), m('d', 300, 't3')])
    expect(gs.map((g) => g.models.map((x) => x.model_id))).toEqual([['b'], ['a', 'c'], ['d']])
  })
  it('a model without a tokenizer hash is its own group', () => {
    expect(groupByTokenizer([m('a', 300, null), m('b', 300, null)])).toHaveLength(2)
  })
  it('says when corpora differ', () => {
    expect(mixedCorpora([m('a', 300, 't', 'x'), m('b', 300, 't', 'x')])).toBe(false)
    expect(mixedCorpora([m('a', 300, 't', 'x'), m('b', 300, 't', 'y')])).toBe(true)
  })
})
