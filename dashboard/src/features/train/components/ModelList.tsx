import { errorMessage } from '@/api/client'
import { useModelAction } from '@/api/queries/textModels'
import type { TextModelSummary } from '@/api/types'
import { Button } from '@/components/ui/Toggle'
import { fmtCompact, fmtDate, fmtInt, fmtNum } from '@/lib/format'
import { groupByTokenizer, mixedCorpora } from '../lib/vocab'
import { ModelStatusBadge } from './ModelStatusBadge'

const th = 'px-2 py-1 text-left font-medium text-zinc-400'
const td = 'px-2 py-1 align-middle'

/** Models with status, config and final metrics; select one, promote or reject it. */
export function ModelList({
  models,
  selected,
  onSelect,
}: {
  models: TextModelSummary[]
  selected: string | null
  onSelect: (id: string) => void
}) {
  const act = useModelAction()
  const groups = groupByTokenizer(models)
  const several = groups.length > 1
  return (
    <div className="overflow-x-auto">
      {several && (
        <p role="note" className="mb-2 rounded border border-amber-500/30 bg-amber-500/5 px-2 py-1.5 text-xs text-amber-200" data-testid="vocab-warning" data-groups={groups.length}>
          These models use {groups.length} different tokenizers: a loss per token is not comparable across them (a token of one covers other bytes than a token of another).
          Compare by <span className="font-mono">val bits/byte</span>: the validation loss over the bytes its split decodes to.
          {mixedCorpora(models) ? ' Their validation splits also come from different corpora.' : ''}
        </p>
      )}
      <table className="w-full text-xs" aria-label="Text models" data-testid="model-table">
        <thead>
          <tr className="border-b border-zinc-800">
            <th className={th}>model</th>
            <th className={th}>status</th>
            <th className={th}>created</th>
            <th className={th}>config</th>
            <th className={`${th} text-right`}>steps</th>
            <th className={`${th} text-right`}>lr</th>
            <th className={`${th} text-right`}>train loss</th>
            <th className={`${th} text-right`}>val loss</th>
            <th className={`${th} text-right`}>val ppl</th>
            <th className={`${th} text-right`} title="validation loss / ln 2 × tokens / bytes of the validation split: comparable across tokenizers">val bits/byte</th>
            <th className={`${th} text-right`}>tokens/s</th>
            <th className={th}>use</th>
            <th className={th}><span className="sr-only">actions</span></th>
          </tr>
        </thead>
        {groups.map((g) => (
        <tbody key={g.key} data-testid="vocab-group" data-vocab={g.vocabSize ?? ''} data-tokenizer={g.tokenizer ?? ''} data-count={g.models.length}>
          {several && (
            <tr className="border-b border-zinc-800 bg-zinc-900/60">
              <th scope="rowgroup" colSpan={13} className="px-2 py-1 text-left text-[11px] font-medium text-zinc-300">
                vocabulary {g.vocabSize ?? '?'} · tokenizer <span className="font-mono">{g.tokenizer ? g.tokenizer.slice(0, 10) : 'unknown'}</span> · {g.models.length} model{g.models.length === 1 ? '' : 's'}: per-token losses comparable within this group
              </th>
            </tr>
          )}
          {g.models.map((m) => {
            const sel = m.model_id === selected
            return (
              <tr
                key={m.model_id}
                data-model={m.model_id}
                data-status={m.status}
                data-bpb={m.val_bpb ?? ''}
                aria-selected={sel}
                className={`border-b border-zinc-900 ${sel ? 'bg-cyan-500/5' : 'hover:bg-zinc-800/30'}`}
              >
                <td className={`${td} font-mono`}>
                  <button type="button" className="text-cyan-300 underline-offset-2 hover:underline" onClick={() => onSelect(m.model_id)} aria-label={`Show ${m.model_id}`}>
                    {m.model_id}
                  </button>
                </td>
                <td className={td}><ModelStatusBadge status={m.status} /></td>
                <td className={`${td} text-zinc-400`}>{fmtDate(m.created_at)}</td>
                <td className={`${td} text-zinc-300`} title={m.corpus_source ?? undefined}>
                  {m.preset} · {m.backbone ?? '?'} d{m.d_model}×{m.n_layers} · V{m.vocab_size}
                  {m.n_params ? ` · ${fmtCompact(m.n_params)} params` : ''}
                </td>
                <td className={`${td} text-right font-mono`}>{m.step}/{m.steps ?? '?'}</td>
                <td className={`${td} text-right font-mono`}>{fmtNum(m.lr, 3)}</td>
                <td className={`${td} text-right font-mono`}>{fmtNum(m.train_loss, 4)}</td>
                <td className={`${td} text-right font-mono`}>{fmtNum(m.val_loss, 4)}</td>
                <td className={`${td} text-right font-mono`}>{fmtNum(m.val_ppl, 4)}</td>
                <td
                  className={`${td} text-right font-mono`}
                  title={m.val_bytes ? `${fmtInt(m.val_tokens)} tokens over ${fmtInt(m.val_bytes)} bytes of the validation split` : 'not computed (no byte-level tokenizer or no split files)'}
                >
                  {fmtNum(m.val_bpb, 4)}
                </td>
                <td className={`${td} text-right font-mono`}>{fmtCompact(m.tokens_per_s)}</td>
                <td className={`${td} text-zinc-300`}>
                  {m.is_default ? 'default' : m.promoted ? 'promoted' : m.rejected ? 'rejected' : 'candidate'}
                </td>
                <td className={`${td} whitespace-nowrap`}>
                  <span className="flex gap-1">
                    <Button
                      ariaLabel={`Promote ${m.model_id}`}
                      disabled={m.promoted || (m.status !== 'completed' && m.status !== 'sleep_candidate') || act.isPending}
                      onClick={() => act.mutate({ id: m.model_id, action: 'promote' })}
                    >
                      Promote
                    </Button>
                    <Button
                      ariaLabel={`Reject ${m.model_id}`}
                      variant="danger"
                      disabled={m.rejected || m.status === 'training' || act.isPending}
                      onClick={() => act.mutate({ id: m.model_id, action: 'reject' })}
                    >
                      Reject
                    </Button>
                  </span>
                </td>
              </tr>
            )
          })}
        </tbody>
        ))}
      </table>
      {act.error && <p role="alert" className="mt-2 text-xs text-red-300">{errorMessage(act.error)}</p>}
      {models.some((m) => m.error) && (
        <ul className="mt-2 space-y-0.5 text-xs text-red-300">
          {models.filter((m) => m.error).map((m) => (
            <li key={m.model_id}><span className="font-mono">{m.model_id}</span>: {m.error}</li>
          ))}
        </ul>
      )}
    </div>
  )
}
