// The Review, Sweeps and Jobs views in the real browser over the CLI-made demo folder:
// a scan from the UI lists findings that link to their exact event; decisions persist and a
// flag becomes a red-team seed; a sweep's gain vs μ matches its rows and a row opens as a
// real session with the same gain; a running job keeps its progress, ETA and Cancel across
// a reload. Screenshots: test-results/review.png, sweeps.png, jobs.png.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiOk, axeSerious, chartReady, launch, newPage, shot, url } from './lib.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => browser?.close())

test('review: a scan lists unusual attempts with why; each links to its exact event; decisions persist; a flag seeds the red team', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/review'))
  await page.getByRole('form', { name: 'Scan the update logs' }).getByRole('button', { name: /Scan (now|again)/ }).click()
  await page.waitForSelector('[data-testid="scan-info"]')
  const q = await apiOk('/anomalies?limit=10000')
  assert.ok(q.scan.records > 0 && q.items.length > 0)
  const open = q.items.filter((f) => f.review.state === 'open')
  await page.waitForSelector(`[data-testid="review-list"][data-count="${open.length}"]`)
  const first = await page.$eval('[data-testid="review-list"] li', (li) => ({ ...li.dataset, why: li.querySelector('[data-testid="finding-why"]').textContent }))
  assert.equal(first.finding, open[0].id)
  assert.ok(first.why.length > 10, 'the first finding says why it is unusual')
  await shot(page, 'review')
  assert.deepEqual(await axeSerious(page), [])

  // a Nano finding opens the Overview with that very event in the slide-out
  const nano = open.find((f) => f.kind === 'nano')
  await page.locator(`li[data-finding="${nano.id}"] [data-testid="finding-link"]`).click()
  await page.waitForSelector(`[data-testid="event-detail"][data-t="${nano.position}"]`)
  assert.equal(new URL(page.url()).searchParams.get('session'), nano.item)
  assert.equal(new URL(page.url()).searchParams.get('run'), nano.run)
  // a Sentry finding opens the Text view with that chunk's row highlighted
  const sentry = open.find((f) => f.kind === 'sentry' && f.has_text && f.id !== open[0].id)
  await page.goto(url('/review'))
  await page.locator(`li[data-finding="${sentry.id}"] [data-testid="finding-link"]`).click()
  await page.waitForSelector(`[data-testid="event-log"] tr[data-chunk="${sentry.position}"][data-focus="true"]`)

  // mark one reviewed: it leaves the open list, and the decision is in the store after a reload
  await page.goto(url('/review'))
  await page.getByRole('button', { name: `Reviewed: finding ${first.rank}`, exact: true }).click()
  await page.waitForSelector(`[data-testid="review-list"][data-count="${open.length - 1}"]`)
  await page.reload()
  await page.getByRole('button', { name: `reviewed ${q.states.reviewed + 1}`, exact: true }).click()
  await page.waitForSelector(`li[data-finding="${first.finding}"][data-state="reviewed"]`)
  assert.ok((await apiOk('/anomalies?state=reviewed')).items.some((f) => f.id === first.finding))

  // flag a Sentry attempt whose run kept its text: it becomes a red-team seed
  await page.goto(url('/review', { kind: 'sentry' }))
  const rank = await page.getAttribute(`li[data-finding="${sentry.id}"]`, 'data-rank')
  await page.getByLabel(`note for finding ${rank}`, { exact: true }).fill('compressible burst')
  await page.getByRole('button', { name: `Flag → red team: finding ${rank}`, exact: true }).click()
  await page.waitForFunction((id) => !document.querySelector(`li[data-finding="${id}"]`), sentry.id)
  const seeds = (await apiOk('/flagged_prompts')).items
  const seed = seeds.find((p) => p.id === `anomaly-${sentry.id}`)
  assert.ok(seed && /compressible burst/.test(seed.reason), 'the flag is in flagged_prompts.json')
  await page.goto(url('/text', { tab: 'redteam' }))
  await page.waitForSelector(`[data-testid="flagged-table"] tr[data-flagged-id="anomaly-${sentry.id}"]`)
  // a Nano attempt has no text: its flag button is disabled and says why
  await page.goto(url('/review', { kind: 'nano' }))
  const nrank = await page.getAttribute('[data-testid="review-list"] li[data-kind="nano"]', 'data-rank')
  assert.equal(await page.getByRole('button', { name: `Flag → red team: finding ${nrank}`, exact: true }).isDisabled(), true)
  assert.deepEqual(problems(), [])
})

test('sweeps: gain vs μ and its distribution match the rows; a row opens as a session with the row’s gain', async () => {
  const { items } = await apiOk('/sweeps')
  const sw = items.find((s) => s.status === 'completed')
  const d = await apiOk(`/sweeps/${sw.sweep_id}`)
  const { page, problems } = await newPage(browser)
  await page.goto(url('/sweeps', { sweep: sw.sweep_id }))
  await page.waitForSelector(`[data-testid="gain-vs-mu"][data-points="${d.rows.length}"]`)
  const dots = await page.$$eval('[data-testid="gain-vs-mu"] circle', (cs) => cs.map((c) => [Number(c.dataset.mu), Number(c.dataset.gain)]))
  assert.deepEqual(dots, d.rows.map((r) => [r.mu, r.gain]))
  for (const mode of sw.env_modes) {
    const g = d.rows.filter((r) => r.env_mode === mode).map((r) => r.gain).sort((a, b) => a - b)
    const med = g.length % 2 ? g[g.length >> 1] : (g[g.length / 2 - 1] + g[g.length / 2]) / 2
    assert.equal(Number(await page.getAttribute(`[data-testid="sweep-medians"] li[data-mode="${mode}"]`, 'data-median')), med)
  }
  assert.equal(await page.getAttribute('[data-testid="sweep-rows"]', 'data-count'), String(d.rows.length))
  await shot(page, 'sweeps')
  assert.deepEqual(await axeSerious(page), [])
  // click-through: the row replayed alone is a real session; its gain is the row's
  const i = d.rows.findIndex((r) => r.env_mode === 'linear')
  const row = d.rows[i]
  const sid = await page.getAttribute(`[data-testid="sweep-rows"] tr[data-row="${i}"]`, 'data-session')
  await page.getByRole('button', { name: `Open as session: row ${i}`, exact: true }).click()
  await page.waitForURL(new RegExp(`/nano/overview\\?session=${sid}`), { timeout: 120_000 })
  await page.waitForSelector('[data-testid="stat-improvement"][data-ratio]:not([data-ratio=""])', { timeout: 30_000 })
  const ratio = Number(await page.getAttribute('[data-testid="stat-improvement"]', 'data-ratio'))
  // the same settings through the unbatched optimiser (torch.optim.Muon, not the sweep's
  // batched Muon): close to the row, not bit-identical
  assert.ok(Math.abs(ratio - row.gain) < 0.01, `session gain ${ratio} vs the sweep row's ${row.gain}`)
  const detail = await apiOk(`/sessions/${sid}`)
  assert.equal(detail.meta.mu, row.mu)
  assert.equal(detail.meta.seed, row.seed)
  assert.deepEqual(problems(), [])
})

test('jobs: a running job shows progress, ETA and Cancel, survives a reload, and can be cancelled', async () => {
  const { items } = await apiOk('/sessions?limit=100')
  const s = items.find((x) => !x.running)
  const job = await apiOk(`/sessions/${s.session_id}/run`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ steps: 200000 }),
  })
  const { page, problems } = await newPage(browser)
  try {
    await page.goto(url('/jobs'))
    const row = page.locator(`[data-testid="jobs-table"] tr[data-job="${job.job_id}"]`)
    for (const load of ['first load', 'reload']) {
      if (load === 'reload') await page.reload()
      await page.waitForSelector(`[data-testid="jobs-table"] tr[data-job="${job.job_id}"][data-status="running"]:not([data-eta=""])`, { timeout: 60_000 })
      assert.ok(Number(await row.getAttribute('data-done')) > 0, `${load}: progress`)
      assert.equal(Number(await row.getAttribute('data-total')), 200000)
      await row.getByRole('button', { name: `Cancel job ${job.job_id}` }).waitFor()
    }
    assert.match(await row.getByRole('link').getAttribute('href'), new RegExp(`/nano/overview\\?session=${s.session_id}`))
    await shot(page, 'jobs')
    await row.getByRole('button', { name: `Cancel job ${job.job_id}` }).click()
    await page.waitForSelector(`[data-testid="jobs-table"] tr[data-job="${job.job_id}"][data-status="cancelled"]`, { timeout: 60_000 })
  } finally {
    await fetch(url(`/api/jobs/${job.job_id}/cancel`), { method: 'POST' })
  }
  assert.equal((await apiOk(`/jobs/${job.job_id}`)).status, 'cancelled')
  assert.deepEqual(await axeSerious(page), [])
  assert.deepEqual(problems().filter((p) => !/\/live/.test(p)), [])
})
