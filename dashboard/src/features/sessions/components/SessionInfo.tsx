import { useBase } from '@/api/queries/bases'
import type { SessionDetail } from '@/api/types'
import { CopyButton } from '@/components/ui/CopyButton'
import { ErrorState, Loading } from '@/components/ui/States'
import { fmtBytes, fmtDate, fmtNum, shortHash } from '@/lib/format'
import { useFiles } from '../api/files'

/** Resume command, files with sizes, and the base model this session grew from. */
export function ResumeBlock({ detail }: { detail: SessionDetail }) {
  return (
    <div data-testid="resume-block">
      <p className="mb-1 text-xs text-zinc-400">This session can be continued exactly where it stopped with:</p>
      <div className="flex items-start gap-1.5">
        <code className="min-w-0 flex-1 break-all rounded bg-zinc-950 px-2 py-1.5 font-mono text-[12px] text-zinc-100" data-testid="sessions-resume-command">
          {detail.resume_command}
        </code>
        <CopyButton text={detail.resume_command} label="Copy resume command" />
      </div>
    </div>
  )
}

export function FilesList({ sessionId }: { sessionId: string }) {
  const q = useFiles(sessionId)
  if (q.error) return <ErrorState error={q.error} what="files" />
  if (!q.data) return <Loading what="files" />
  const total = q.data.total_bytes ?? q.data.items.reduce((a, f) => a + f.size, 0)
  return (
    <div data-testid="files-list" data-count={q.data.items.length} data-total-bytes={total}>
      <div className="max-h-64 overflow-y-auto" tabIndex={0} role="region" aria-label={`Files of session ${sessionId}`}>
        <table className="w-full text-xs">
          <caption className="sr-only">Files of session {sessionId}</caption>
          <thead>
            <tr className="text-left text-[11px] text-zinc-500">
              <th scope="col" className="font-normal">path</th>
              <th scope="col" className="text-right font-normal">size</th>
            </tr>
          </thead>
          <tbody>
            {q.data.items.map((f) => (
              <tr key={f.path} className="border-t border-zinc-900">
                <td className="max-w-0 truncate py-0.5 pr-2 font-mono text-zinc-300" title={f.path}>{f.path}</td>
                <td className="tabular whitespace-nowrap text-right font-mono text-zinc-400" data-bytes={f.size}>{fmtBytes(f.size)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="mt-1 text-[11px] text-zinc-500">{q.data.items.length} files · {fmtBytes(total)} (weight blobs shared across forks live in artifacts/blobs)</p>
    </div>
  )
}

export function BaseInfo({ detail }: { detail: SessionDetail }) {
  const id = detail.meta.base_id
  const q = useBase(id)
  const m = detail.meta
  return (
    <div className="space-y-1 text-xs" data-testid="base-info">
      <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1">
        <dt className="text-zinc-400">base</dt>
        <dd className="font-mono text-zinc-100">{id ?? '—'}</dd>
        <dt className="text-zinc-400">checkpoint hash</dt>
        <dd className="flex min-w-0 items-center gap-1.5 font-mono text-zinc-100">
          <span className="truncate" title={m.base_ckpt_hash}>{shortHash(m.base_ckpt_hash, 16)}</span>
          {m.base_ckpt_hash && <CopyButton text={m.base_ckpt_hash} label="Copy base checkpoint hash" />}
        </dd>
        <dt className="text-zinc-400">model signature</dt>
        <dd className="flex min-w-0 items-center gap-1.5 font-mono text-zinc-100">
          <span className="truncate">{m.model_signature}</span>
          <CopyButton text={m.model_signature} label="Copy model signature" />
        </dd>
        {q.data && (
          <>
            <dt className="text-zinc-400">created</dt>
            <dd className="font-mono text-zinc-100">{fmtDate(q.data.created_at)}</dd>
            {Object.entries(q.data.metrics ?? {}).map(([k, v]) => (
              <div key={k} className="contents">
                <dt className="text-zinc-400">{k}</dt>
                <dd className="font-mono text-zinc-100">{typeof v === 'number' ? fmtNum(v) : String(v)}</dd>
              </div>
            ))}
          </>
        )}
      </dl>
      {q.error && <ErrorState error={q.error} what="base" />}
      <p className="text-zinc-500">All sessions with signature <span className="font-mono">{shortHash(m.model_signature, 12)}</span> share the architecture and base weights, so their numbers are comparable.</p>
    </div>
  )
}
