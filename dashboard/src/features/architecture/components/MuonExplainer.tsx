import type { Architecture } from '@/api/types'
import { Kv } from '@/components/ui/Kv'
import { fmtNum } from '@/lib/format'

/** What Muon does differently from AdamW, with this session's hyper-parameters. */
export function MuonExplainer({ muon, plasticity }: { muon: Architecture['muon']; plasticity: Architecture['plasticity_cfg'] }) {
  const p = plasticity as Record<string, unknown>
  const items: [string, string][] = [
    ['lr', fmtNum(muon.lr)],
    ['momentum', fmtNum(muon.momentum)],
    ['nesterov', muon.nesterov ? 'yes' : 'no'],
    ['ns_steps', String(muon.ns_steps)],
    ['weight_decay', fmtNum(muon.weight_decay)],
  ]
  for (const [m, sc] of Object.entries(muon.lr_scale ?? {})) items.push([`lr × scale ${m}`, `${fmtNum(muon.lr * sc)} (×${fmtNum(sc, 3)})`])
  for (const k of ['lr_min', 'lr_max', 'backoff', 'growth', 'chunk', 'holdout_every', 'steps_per_update'])
    if (p[k] !== undefined) items.push([k, typeof p[k] === 'number' ? fmtNum(p[k] as number) : String(p[k])])
  return (
    <div className="space-y-2 text-[13px] leading-relaxed text-zinc-300" data-testid="muon-explainer">
      <p>
        The fast weights are updated with <strong className="text-zinc-100">Muon</strong>, not AdamW. Muon keeps a momentum of
        each matrix's gradient and then <em>orthogonalises</em> it with a few Newton–Schulz iterations: the update becomes
        (approximately) the nearest semi-orthogonal matrix, UVᵀ of the momentum's SVD. Every direction of the matrix moves by
        the same amount, so one large singular direction cannot dominate a step — a well-conditioned, bounded write.
      </p>
      <p>
        AdamW scales each <em>entry</em> separately; Muon acts on the matrix as a whole. For online updates from a handful of
        steps that is a safety property: the size of a write is set by the learning rate, not by one spiky gradient. The step
        size then adapts: it backs off after a rollback and grows after commits, within [lr_min, lr_max].
      </p>
      <Kv items={items} cols={2} />
    </div>
  )
}
