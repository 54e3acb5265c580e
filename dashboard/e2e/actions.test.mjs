// Actions from the UI against the real server: fork a session (checked through the API) and
// run a session while the Overview follows the live stream.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiOk, api, chartReady, launch, newPage, pickSession, shot, url } from './lib.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => browser?.close())

test('fork from the UI at update k without momentum creates the session', async () => {
  const { items } = await apiOk('/sessions?limit=100&sort=session_id')
  const src = items.find((x) => x.updates_committed >= 2 && x.session_id !== 'scale-1m') ?? items[0]
  const hist = await apiOk(`/sessions/${src.session_id}/weights`)
  const firstRun = (await apiOk(`/sessions/${src.session_id}`)).runs[0]
  const inFirst = hist.items.filter((w) => w.k > 0 && w.t < firstRun.t_end)
  const k = (inFirst[Math.floor(inFirst.length / 2)] ?? hist.items.at(-1)).k
  const newId = `e2e-fork-${Date.now().toString(36)}`
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/sessions', { session: src.session_id }))
  await page.waitForSelector('[data-testid="fork-form"]')
  await page.waitForSelector(`[data-testid="fork-from"] option[value="${k}"]`, { state: 'attached' })
  await page.selectOption('[data-testid="fork-from"]', String(k))
  await page.uncheck('[data-testid="fork-momentum"]')
  await page.fill('[data-testid="fork-new-id"]', newId)
  await page.fill('[data-testid="fork-mu"]', '0.21')
  await page.getByRole('button', { name: 'Fork', exact: true }).click()
  await page.waitForSelector('[data-testid="job-progress"]')
  // the new fork opens by itself (the form used to leave you on the parent)
  await page.waitForFunction(
    (id) => (location.pathname === '/nano/overview' && new URL(location.href).searchParams.get('session') === id) || !!document.querySelector('[data-testid="job-progress"][data-status="failed"]'),
    newId,
    { timeout: 60_000 },
  )
  const failed = await page.$('[data-testid="job-progress"][data-status="failed"]')
  if (failed) assert.fail(`the fork job failed: ${await failed.textContent()}`)
  const d = await apiOk(`/sessions/${newId}`)
  assert.equal(d.meta.parent.session_id, src.session_id)
  assert.equal(d.meta.parent.update_index, k)
  assert.equal(d.meta.parent.with_momentum, false)
  assert.equal(d.meta.mu, 0.21, 'the μ override reached the fork')
  // the lineage tree shows it
  await page.goto(url('/nano/sessions', { session: newId }))
  await page.waitForSelector(`[data-testid="lineage-tree"] [data-node="${newId}"]`)
  await shot(page, 'sessions-after-fork')
  assert.deepEqual(problems(), [])
})

test('a run started from the UI updates the Overview live', async () => {
  const s = await pickSession()
  const steps = Number(process.env.TTT_E2E_LIVE_STEPS ?? 1500)
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', { session: s.session_id, run: s.run.run_id }))
  await chartReady(page, 'mse-chart')
  const before = await apiOk(`/sessions/${s.session_id}`)
  await page.fill('[data-testid="run-steps"]', String(steps))
  await page.getByRole('button', { name: 'Run', exact: true }).click()
  // the new run is selected at once (its id comes with the job)
  await page.waitForFunction((old) => {
    const r = new URL(location.href).searchParams.get('run')
    return r && r !== old
  }, before.runs.at(-1)?.run_id)
  const runId = new URL(page.url()).searchParams.get('run')
  // sample what the chart shows while the job runs
  const seen = await page.evaluate(async () => {
    const out = []
    const t0 = performance.now()
    while (performance.now() - t0 < 120_000) {
      const el = document.querySelector('[data-testid="mse-chart"]')
      const job = document.querySelector('[data-testid="run-job"]')
      // the hero and the timeline, read in the same instant
      const hero = document.querySelector('[data-testid="stat-commits"]')
      const tl = [...document.querySelectorAll('[data-testid="timeline-totals"] [data-status]')]
      const heroText = hero?.querySelector('[data-value]')?.getAttribute('data-value') ?? ''
      out.push({
        live: Number(el?.dataset.live ?? 0),
        total: Number(el?.dataset.total ?? 0),
        x1: Number(el?.dataset.x1 ?? 0),
        job: job?.dataset.status ?? null,
        heroText,
        tlAttempts: tl.reduce((a, e) => a + Number(e.dataset.count), 0),
        tlCommits: Number(tl.find((e) => e.dataset.status === 'commit')?.dataset.count ?? 0),
      })
      if (job && ['completed', 'failed', 'cancelled'].includes(job.dataset.status)) break
      await new Promise((r) => setTimeout(r, 100))
    }
    return out
  })
  const liveValues = [...new Set(seen.map((x) => x.live).filter((v) => v > 0))]
  const job = seen.at(-1).job
  if (job !== 'completed') {
    const jobs = await apiOk('/jobs?limit=5')
    const j = jobs.items.find((x) => x.params?.run_id === runId)
    assert.fail(`the run job ended ${job}: ${j?.error ?? 'no error recorded'}`)
  }
  assert.ok(liveValues.length >= 2, `the chart grew while running (live row counts seen: ${liveValues.join(', ')})`)
  // during the live run the hero's committed / attempted are the timeline's totals
  const during = seen.filter((x) => x.live > 0 && x.tlAttempts > 0)
  assert.ok(during.length > 0, 'the timeline showed attempts while the run was live')
  for (const x of during) {
    const fmt = (v) => v.toLocaleString('en-US')
    assert.equal(x.heroText, `${fmt(x.tlCommits)} / ${fmt(x.tlAttempts)}`, `hero vs timeline at ${x.live} live rows`)
  }
  const d = await apiOk(`/sessions/${s.session_id}`)
  const r = d.runs.find((x) => x.run_id === runId)
  assert.equal(r?.status, 'completed')
  assert.equal(r.t_end - r.t_start, steps)
  // after the run the stored series replace the live buffer
  await page.waitForSelector(`[data-testid="mse-chart"][data-total="${steps}"][data-live="0"][data-ready="true"]`, { timeout: 30_000 })
  await shot(page, 'overview-after-live-run')
  const noisy = problems().filter((p) => !/\/live/.test(p))
  assert.deepEqual(noisy, [])
  const { status } = await api(`/sessions/${s.session_id}/runs/${runId}/per_step?points=10`)
  assert.equal(status, 200)
})
