import { useState } from 'react'
import { errorMessage } from '@/api/client'
import { useSentryDefaults } from '@/api/queries/sentryDefaults'
import { useUsableModels } from '@/api/queries/textModels'
import { Button } from '@/components/ui/Toggle'
import { ID_RE } from '@/lib/urlState'
import { useCreateSession } from '../api/chat'
import { field, input } from './styles'

/** Creates a session: model, id (optional), the defences (safety mode, chunk size) and the reply length. */
export function CreateSessionForm({ onCreated }: { onCreated: (id: string) => void }) {
  const { models, usable, defaultId } = useUsableModels()
  const defaults = useSentryDefaults()
  const create = useCreateSession()
  const [modelId, setModelId] = useState<string | null>(null)
  const [sid, setSid] = useState('')
  const [safety, setSafety] = useState('all')
  const [chunk, setChunk] = useState('32')
  const [maxTokens, setMaxTokens] = useState('48')
  const model = modelId ?? defaultId
  const problems: string[] = []
  if (!model) problems.push(models.isPending ? 'loading models…' : 'no completed text model: train one in Train')
  if (sid.trim() && !ID_RE.test(sid.trim())) problems.push('id: letters, digits, . _ - (up to 64)')
  const intOk = (v: string, lo: number, hi: number) => /^\d+$/.test(v) && Number(v) >= lo && Number(v) <= hi
  if (!intOk(chunk, 2, 4096)) problems.push('chunk tokens: 2 to 4096')
  if (!intOk(maxTokens, 1, 512)) problems.push('reply tokens: 1 to 512')
  return (
    <form
      aria-label="Create a chat session"
      className="flex flex-col gap-2"
      onSubmit={(e) => {
        e.preventDefault()
        if (problems.length || !model) return
        create.mutate(
          {
            model_id: model,
            session_id: sid.trim() || null,
            config: { safety, chunk_tokens: Number(chunk) },
            generation: { max_tokens: Number(maxTokens) },
          },
          {
            onSuccess: (d) => {
              setSid('')
              onCreated(d.session.session_id)
            },
          },
        )
      }}
    >
      <label className={field}>
        model
        <select aria-label="session model" className={`${input} font-mono`} value={model ?? ''} onChange={(e) => setModelId(e.target.value)}>
          {usable.map((m) => (
            <option key={m.model_id} value={m.model_id}>
              {m.model_id}
              {m.status === 'sleep_candidate' ? ' (sleep candidate)' : ''}
            </option>
          ))}
        </select>
      </label>
      <label className={field}>
        session id (optional)
        <input aria-label="new session id" className={`${input} font-mono`} value={sid} placeholder="a new chat-… id" onChange={(e) => setSid(e.target.value)} />
      </label>
      <div className="grid grid-cols-3 gap-2">
        <label className={field}>
          safety
          <select aria-label="new session safety mode" className={input} value={safety} onChange={(e) => setSafety(e.target.value)}>
            {(defaults.data?.safety_modes ?? ['off', 'gate', 'rollback', 'spfw', 'all']).map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label className={field}>
          chunk tokens
          <input aria-label="new session chunk tokens" className={`${input} font-mono`} inputMode="numeric" value={chunk} onChange={(e) => setChunk(e.target.value)} />
        </label>
        <label className={field}>
          reply tokens
          <input aria-label="new session reply tokens" className={`${input} font-mono`} inputMode="numeric" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} />
        </label>
      </div>
      <div className="flex flex-wrap items-center gap-2">
        <Button type="submit" variant="primary" disabled={problems.length > 0 || create.isPending}>
          Create session
        </Button>
        {problems.length > 0 && <span className="text-xs text-amber-300">{problems.join('; ')}</span>}
        {create.error && <span role="alert" className="text-xs text-red-300">{errorMessage(create.error)}</span>}
      </div>
    </form>
  )
}
