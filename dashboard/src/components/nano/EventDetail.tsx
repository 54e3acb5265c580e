import { CopyButton } from '@/components/ui/CopyButton'
import { StatusBadge } from '@/components/ui/StatusBadge'
import type { UpdateEvent } from '@/api/types'
import { fmtDuration, fmtInt, fmtNum, fmtPct, relChange } from '@/lib/format'
import { eventReasons, explainEvent, lossDeltaTone } from '@/lib/reasons'
import { statusStyle } from '@/lib/status'

const TONE = { good: 'text-emerald-300', bad: 'text-red-300', flat: 'text-zinc-300', none: 'text-zinc-400' }

/** pre → post with arrow, colour and relative change. */
export function LossDiff({ pre, post, big = false }: { pre: number | null | undefined; post: number | null | undefined; big?: boolean }) {
  const tone = lossDeltaTone(pre, post)
  const rc = relChange(pre, post)
  return (
    <span className={`tabular inline-flex items-baseline gap-1.5 font-mono ${big ? 'text-base' : 'text-xs'}`}>
      <span className="text-zinc-300">{fmtNum(pre)}</span>
      <span aria-hidden="true" className={TONE[tone]}>→</span>
      <span className="sr-only">to</span>
      <span className={TONE[tone]}>{fmtNum(post)}</span>
      {rc !== null && <span className={`${TONE[tone]} text-[0.85em]`}>({fmtPct(rc, 1, true)})</span>}
    </span>
  )
}

function ProbeTable({ pre, post }: { pre: Record<string, unknown> | null | undefined; post: Record<string, unknown> | null | undefined }) {
  const keys = [...new Set([...Object.keys(pre ?? {}), ...Object.keys(post ?? {})])].sort()
  if (!keys.length) return null
  const show = (v: unknown) => (typeof v === 'number' ? fmtNum(v) : v === undefined ? '—' : JSON.stringify(v))
  return (
    <table className="w-full text-xs">
      <caption className="mb-1 text-left text-[11px] font-medium uppercase tracking-wide text-zinc-500">Probes before → after</caption>
      <thead className="sr-only">
        <tr><th scope="col">probe</th><th scope="col">pre</th><th scope="col">post</th></tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k} className="border-t border-zinc-800/70">
            <th scope="row" className="py-0.5 pr-2 text-left font-normal text-zinc-400">{k}</th>
            <td className="tabular py-0.5 pr-2 text-right font-mono text-zinc-300">{show(pre?.[k])}</td>
            <td className="tabular py-0.5 text-right font-mono text-zinc-100">{show(post?.[k])}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Everything about one update attempt, with the reason in plain English first. */
export function EventDetail({ ev }: { ev: UpdateEvent }) {
  const st = statusStyle(ev.status)
  const reasons = eventReasons(ev)
  const checks = ev.checks ?? []
  return (
    <div className="space-y-3 text-sm" data-testid="event-detail" data-status={ev.status} data-t={ev.t}>
      <div className="flex flex-wrap items-center gap-2">
        <StatusBadge status={ev.status} />
        <span className="font-mono text-xs text-zinc-400">
          t {fmtInt(ev.t)}
          {ev.index !== null && ev.index !== undefined && (
            <span title="The engine's attempt counter (1-based): it counts every attempt on these weights, earlier runs and, for a fork, its parent's attempts before the fork included"> · engine attempt {fmtInt(ev.index + 1)} (lineage)</span>
          )}
          {ev.commit_index !== null && ev.commit_index !== undefined ? ` · commit k=${ev.commit_index}` : ''} · {ev.run_id}
        </span>
        <span className="ml-auto"><CopyButton text={JSON.stringify(ev, null, 2)} label="Copy event JSON" /></span>
      </div>
      <p
        className="rounded border px-3 py-2 text-[13px] leading-relaxed"
        style={{ borderColor: `${st.color}55`, background: `${st.color}12`, color: '#e4e4e7' }}
        data-testid="event-explanation"
      >
        {explainEvent(ev)}
      </p>
      <div className="grid grid-cols-2 gap-x-4 gap-y-2">
        <div className="col-span-2">
          <div className="text-[11px] uppercase tracking-wide text-zinc-500">held-out loss</div>
          <LossDiff pre={ev.pre_loss} post={ev.post_loss} big />
        </div>
        <Field k="train loss" v={fmtNum(ev.train_loss)} />
        <Field k="grad norm" v={`${fmtNum(ev.grad_norm)}${ev.grad_norm_z !== null && ev.grad_norm_z !== undefined ? ` (z ${fmtNum(ev.grad_norm_z, 3)})` : ''}`} />
        <Field k="max |h| pre → post" v={`${fmtNum(ev.pre_max_h)} → ${fmtNum(ev.post_max_h)}`} />
        <Field k="learning rate" v={fmtNum(ev.lr)} />
        <Field k="update norm" v={fmtNum(ev.update_norm)} />
        <Field k="duration" v={fmtDuration(ev.duration_ms)} />
      </div>
      {checks.length > 0 && (
        <table className="w-full text-xs" data-testid="event-checks">
          <caption className="mb-1 text-left text-[11px] font-medium uppercase tracking-wide text-zinc-500">Safety checks</caption>
          <thead>
            <tr className="text-left text-[11px] text-zinc-500">
              <th scope="col" className="font-normal">check</th>
              <th scope="col" className="pl-2 text-right font-normal">value</th>
              <th scope="col" className="pl-2 text-right font-normal">threshold</th>
              <th scope="col" className="pl-2 text-right font-normal">result</th>
            </tr>
          </thead>
          <tbody>
            {checks.map((c) => (
              <tr key={c.name} className="border-t border-zinc-800/70 align-top">
                <th scope="row" className="py-1 pr-2 text-left font-mono font-normal text-zinc-300">
                  {c.name}
                  {c.reason && <div className="mt-0.5 font-sans text-[11px] text-zinc-400">{c.reason}</div>}
                </th>
                <td className="tabular py-1 pl-2 text-right font-mono text-zinc-100">
                  {fmtNum(c.value)}
                  {c.score !== null && c.score !== undefined && <div className="text-[11px] text-zinc-500">z {fmtNum(c.score, 3)}</div>}
                </td>
                <td className="tabular py-1 pl-2 text-right font-mono text-zinc-400">{fmtNum(c.threshold)}</td>
                <td className={`whitespace-nowrap py-1 pl-2 text-right ${c.passed ? 'text-emerald-300' : 'text-red-300'}`}>{c.passed ? '✓ pass' : '✗ fail'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {reasons.length > 1 && (
        <ul className="list-disc space-y-0.5 pl-5 text-xs text-zinc-300">
          {reasons.map((r, i) => <li key={i}>{r}</li>)}
        </ul>
      )}
      <ProbeTable pre={ev.probes_pre} post={ev.probes_post} />
      {ev.projection && Object.keys(ev.projection).length > 0 && (
        <div>
          <div className="mb-1 text-[11px] font-medium uppercase tracking-wide text-zinc-500">Projection</div>
          <pre className="overflow-x-auto rounded bg-zinc-900 p-2 font-mono text-[11px] text-zinc-300">{JSON.stringify(ev.projection, null, 2)}</pre>
        </div>
      )}
    </div>
  )
}

function Field({ k, v }: { k: string; v: string }) {
  return (
    <div>
      <div className="text-[11px] uppercase tracking-wide text-zinc-500">{k}</div>
      <div className="tabular font-mono text-xs text-zinc-100">{v}</div>
    </div>
  )
}
