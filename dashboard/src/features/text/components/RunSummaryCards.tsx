import { Kv } from '@/components/ui/Kv'
import { fmtDuration, fmtInt, fmtNum } from '@/lib/format'
import type { TextRunDetail } from '../api/types'
import { SentryStatusBadge } from './StatusBadge'

/** The run's figures and the exact defence it ran under. */
export function RunSummaryCards({ detail }: { detail: TextRunDetail }) {
  const s = detail.summary
  const r = detail.request
  const cfg = r.config ?? {}
  const stat = (lbl: string, value: string, testId?: string) => (
    <div className="rounded border border-zinc-800 bg-zinc-950/50 px-2.5 py-1.5" data-testid={testId}>
      <div className="text-[11px] text-zinc-400">{lbl}</div>
      <div className="font-mono text-sm text-zinc-100">{value}</div>
    </div>
  )
  return (
    <div className="space-y-2" data-testid="run-summary" data-run={s.run_id} data-status={s.status} data-blocked={s.blocked} data-committed={s.committed} data-rolled-back={s.rolled_back}>
      <div className="grid grid-cols-2 gap-2 sm:grid-cols-4 lg:grid-cols-8">
        {stat('chunks', `${fmtInt(s.n_chunks_done)} / ${fmtInt(s.n_chunks)}`)}
        {stat('committed', fmtInt(s.committed), 'stat-committed')}
        {stat('blocked by gate', fmtInt(s.blocked), 'stat-blocked')}
        {stat('rolled back', fmtInt(s.rolled_back), 'stat-rolled-back')}
        {stat('loss first → last', `${fmtNum(s.loss_first, 4)} → ${fmtNum(s.loss_last, 4)}`)}
        {stat('canary start → end', `${fmtNum(s.canary_start, 4)} → ${fmtNum(s.canary_end, 4)}`)}
        {stat('canary Δ total', fmtNum(s.canary_delta_total, 3))}
        {stat('max grad norm · time', `${fmtNum(s.max_grad_norm, 3)} · ${fmtDuration((s.duration_s ?? NaN) * 1000)}`)}
      </div>
      {Object.keys(s.counts ?? {}).length > 0 && (
        <div className="flex flex-wrap items-center gap-1.5 text-xs" aria-label="Chunks per status">
          {Object.entries(s.counts ?? {}).map(([st, n]) => (
            <span key={st} className="flex items-center gap-1" data-count-status={st} data-count={n}>
              <SentryStatusBadge status={st} /> <span className="font-mono text-zinc-300">{fmtInt(n)}</span>
            </span>
          ))}
        </div>
      )}
      <Kv
        cols={3}
        items={[
          ['model · backend', `${r.model_id ?? '—'} · ${r.backend ?? 'tinylm'}`],
          ['backbone · objective', `${r.backbone ?? '?'} · ${r.objective ?? '?'}`],
          ['safety', r.safety ?? '?'],
          ['chunk tokens · lr', `${r.chunk_tokens ?? '?'} · ${fmtNum(cfg.lr as number, 3)}`],
          ['canary max Δ · z', `${fmtNum(cfg.canary_max_delta as number, 3)} · ${fmtNum(cfg.canary_z as number, 3)}`],
          ['grad-norm z · SPFW', `${fmtNum(cfg.grad_z as number, 3)} · ${String(cfg.spfw_mode ?? '?')} slack ${fmtNum(cfg.spfw_slack as number, 3)}`],
          ['input', `${fmtInt(r.n_chars)} chars · ${fmtInt(r.n_tokens)} tokens · ${r.source ?? '?'}`],
          ['text sha256', <span title={r.text_sha256 ?? undefined}>{(r.text_sha256 ?? '').slice(0, 16)}…</span>],
          ['gate overrides', Object.keys((cfg.gate as Record<string, unknown>) ?? {}).length ? JSON.stringify(cfg.gate) : 'none'],
        ]}
      />
      {s.error && <p role="alert" className="text-xs text-red-300">{s.error}</p>}
    </div>
  )
}
