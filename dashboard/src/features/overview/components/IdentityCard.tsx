import { Link } from 'react-router'
import type { SessionDetail } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { CopyButton } from '@/components/ui/CopyButton'
import { fmtDate, fmtInt, fmtNum, shortHash } from '@/lib/format'

type Json = Record<string, unknown>

function fmtVal(v: unknown): string {
  if (typeof v === 'number') return fmtNum(v)
  if (typeof v === 'boolean') return v ? 'yes' : 'no'
  if (v === null || v === undefined) return '—'
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** "grad_norm_robust_z (z_max 8, min_history 8)" */
export function describeCheck(c: Json): string {
  const { kind, ...rest } = c
  const args = Object.entries(rest)
    .map(([k, v]) => `${k} ${fmtVal(v)}`)
    .join(', ')
  return `${String(kind ?? 'check')}${args ? ` (${args})` : ''}`
}

/** Who this session is: ids, μ, env, signature and hashes (copyable), plasticity config. */
export function IdentityCard({ detail }: { detail: SessionDetail }) {
  const m = detail.meta
  const p = (m.plasticity_cfg ?? {}) as Json
  const checks = (p.checks ?? {}) as { pre?: Json[]; post?: Json[] }
  const scalar = Object.entries(p).filter(([k]) => k !== 'checks')
  return (
    <Card id="identity" title="Session identity" testId="identity-card">
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs">
        <dt className="text-zinc-400">session</dt>
        <dd className="flex min-w-0 items-center gap-1.5 font-mono text-zinc-100">
          <span className="truncate">{m.session_id}</span>
          <CopyButton text={m.session_id} label="Copy session id" />
        </dd>
        <dt className="text-zinc-400">env</dt>
        <dd className="font-mono text-zinc-100">
          {m.env_mode} · μ = {fmtNum(m.mu, 5)}
          {m.seed !== undefined && <span className="text-zinc-500"> · seed {String(m.seed)}</span>}
        </dd>
        <dt className="text-zinc-400">created</dt>
        <dd className="font-mono text-zinc-100">{fmtDate(m.created_at)}</dd>
        {m.parent && (
          <>
            <dt className="text-zinc-400">forked from</dt>
            <dd className="font-mono text-zinc-100">
              <Link className="text-cyan-300 underline-offset-2 hover:underline" to={{ pathname: '/nano/overview', search: `?session=${encodeURIComponent(m.parent.session_id)}` }}>
                {m.parent.session_id}
              </Link>
              {m.parent.update_index !== null ? ` @ update k=${m.parent.update_index}` : ' @ latest'}
              {m.parent.t !== null ? ` (t ${fmtInt(m.parent.t)})` : ''}
              {m.parent.with_momentum ? ' · with momentum' : ' · fresh momentum'}
            </dd>
          </>
        )}
        <dt className="text-zinc-400">model signature</dt>
        <dd className="flex min-w-0 items-center gap-1.5 font-mono text-zinc-100">
          <span className="truncate" title={m.model_signature}>{shortHash(m.model_signature, 16)}</span>
          <CopyButton text={m.model_signature} label="Copy model signature" />
        </dd>
        {m.base_ckpt_hash && (
          <>
            <dt className="text-zinc-400">base</dt>
            <dd className="flex min-w-0 items-center gap-1.5 font-mono text-zinc-100">
              <span className="truncate" title={m.base_ckpt_hash}>
                {m.base_id ? `${m.base_id} · ` : ''}
                {shortHash(m.base_ckpt_hash, 12)}
              </span>
              <CopyButton text={m.base_ckpt_hash} label="Copy base checkpoint hash" />
            </dd>
          </>
        )}
      </dl>
      <h3 className="mb-1 mt-3 text-[11px] font-medium uppercase tracking-wide text-zinc-500">Plasticity</h3>
      <dl className="grid grid-cols-[auto_1fr_auto_1fr] gap-x-3 gap-y-0.5 text-xs" data-testid="plasticity-cfg">
        {scalar.map(([k, v]) => (
          <div key={k} className="contents">
            <dt className="text-zinc-400">{k}</dt>
            <dd className="tabular font-mono text-zinc-100">{fmtVal(v)}</dd>
          </div>
        ))}
      </dl>
      {(checks.pre?.length || checks.post?.length) ? (
        <ul className="mt-2 space-y-0.5 text-xs">
          {(['pre', 'post'] as const).flatMap((stage) =>
            (checks[stage] ?? []).map((c, i) => (
              <li key={`${stage}${i}`} className="font-mono text-zinc-300">
                <span className="mr-1.5 rounded bg-zinc-800 px-1 text-[10px] uppercase text-zinc-400">{stage}</span>
                {describeCheck(c)}
              </li>
            )),
          )}
        </ul>
      ) : null}
      <h3 className="mb-1 mt-3 text-[11px] font-medium uppercase tracking-wide text-zinc-500">Resume</h3>
      <div className="flex items-start gap-1.5">
        <code className="min-w-0 flex-1 break-all rounded bg-zinc-950 px-2 py-1 font-mono text-[11px] text-zinc-200" data-testid="resume-command">
          {detail.resume_command}
        </code>
        <CopyButton text={detail.resume_command} label="Copy resume command" />
      </div>
    </Card>
  )
}
