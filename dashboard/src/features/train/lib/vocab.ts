import type { TextModelSummary } from '@/api/types'

/**
 * Models grouped by tokenizer. A per-token loss is comparable only between models that cut
 * text into the same tokens; across tokenizers (another vocabulary size, or the same size
 * trained on another corpus) compare bits per byte of the validation split instead.
 */
export interface VocabGroup {
  key: string
  vocabSize: number | null
  tokenizer: string | null
  models: TextModelSummary[]
}

export function groupByTokenizer(models: TextModelSummary[]): VocabGroup[] {
  const groups = new Map<string, VocabGroup>()
  for (const m of models) {
    const key = m.tokenizer_sha256 ?? `vocab:${m.vocab_size ?? '?'}:${m.model_id}`
    let g = groups.get(key)
    if (!g) groups.set(key, (g = { key, vocabSize: m.vocab_size ?? null, tokenizer: m.tokenizer_sha256 ?? null, models: [] }))
    g.models.push(m)
  }
  // largest vocabulary first, then by the newest model (the list comes newest first)
  return [...groups.values()].sort((a, b) => (b.vocabSize ?? -1) - (a.vocabSize ?? -1))
}

/** Do the models' validation splits come from different corpora (bpb then compares models
 *  on different text: a caveat worth saying)? */
export const mixedCorpora = (models: TextModelSummary[]) => new Set(models.map((m) => m.corpus_sha256 ?? m.model_id)).size > 1
