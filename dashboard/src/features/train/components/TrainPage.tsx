import { useState } from 'react'
import { useActiveJob } from '@/api/queries/jobs'
import { useTextModels } from '@/api/queries/textModels'
import type { Job } from '@/api/types'
import { Card } from '@/components/ui/Card'
import { Empty, QueryState } from '@/components/ui/States'
import { useTrainStream } from '../api/trainStream'
import { GeneratePanel } from './GeneratePanel'
import { LossCurve } from './LossCurve'
import { ModelList } from './ModelList'
import { ModelStatusBadge } from './ModelStatusBadge'
import { TrainForm } from './TrainForm'
import { TrainProgress } from './TrainProgress'

/** Train: start a TinyLm training job, watch its loss live, list models, sample from one. */
export function TrainPage() {
  const models = useTextModels()
  const [started, setJob] = useState<Job | null>(null)
  // a training job this page did not start (a reload, another tab, the CLI through the API)
  // is found on the server: its progress, ETA and Cancel survive a reload
  const running = useActiveJob('train_lm')
  const job = started ?? running
  const [picked, setPicked] = useState<string | null>(null)
  const jobModel = (job?.params?.model_id as string | undefined) ?? null
  const items = models.data?.items ?? []
  const selected = picked ?? jobModel ?? items[0]?.model_id ?? null
  const stream = useTrainStream(selected)
  const jobRunning = !!job && items.find((m) => m.model_id === jobModel)?.status === 'training'
  return (
    <main id="main" className="mx-auto max-w-[1400px] space-y-3 px-4 py-4">
      <h1 className="sr-only">Train text models</h1>
      <Card id="train-start" title="Train a text model" subtitle="TinyLm (selective SSM) on the built-in corpus or your own files; runs as a job in a worker process">
        <TrainForm
          busy={jobRunning}
          onStarted={(j) => {
            setJob(j)
            setPicked(null)
          }}
        />
        {job && (
          <div className="mt-3">
            <TrainProgress jobId={job.job_id} rows={selected === jobModel ? stream.rows : []} />
          </div>
        )}
      </Card>
      <Card
        id="train-curve"
        title="Loss"
        subtitle={selected ? <span className="font-mono">{selected}</span> : undefined}
        actions={selected ? <ModelStatusBadge status={stream.status} /> : undefined}
        testId="train-curve"
      >
        {!selected ? (
          <Empty>No model yet: start a training job above.</Empty>
        ) : stream.rows.length ? (
          <LossCurve modelId={selected} rows={stream.rows} />
        ) : (
          <p role="status" className="py-6 text-center text-sm text-zinc-400">
            {stream.status === 'missing' || stream.status === 'failed'
              ? `No loss log: ${stream.error ?? stream.status}`
              : stream.status === 'training' || stream.status === 'waiting'
                ? 'Waiting for the first logged step…'
                : 'This model has no logged steps.'}
          </p>
        )}
        {stream.error && stream.rows.length > 0 && <p role="alert" className="mt-2 text-xs text-red-300">{stream.error}</p>}
      </Card>
      <Card id="train-models" title="Models" subtitle="newest first · the default model is the newest completed, promoted one">
        <QueryState query={models} what="text models" isEmpty={(d) => d.items.length === 0} empty="No text models yet.">
          {(d) => <ModelList models={d.items} selected={selected} onSelect={setPicked} />}
        </QueryState>
      </Card>
      <Card id="train-sample" title="Sample" subtitle="continue a prompt with a completed model (seeded: same settings, same text)">
        <QueryState query={models} what="text models">
          {(d) => <GeneratePanel models={d.items} preferred={selected} />}
        </QueryState>
      </Card>
    </main>
  )
}
