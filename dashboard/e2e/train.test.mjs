// Train tab in the real browser: start a short tiny training job, watch the live loss curve
// get points over SSE, see the model complete in the list, sample from it; no console
// errors; axe has no serious violations; screenshot in test-results/train.png.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiOk, axeSerious, launch, newPage, shot, url } from './lib.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => browser?.close())

const STEPS = 400

test('train: a tiny job streams a live curve, completes, and samples', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/train'))
  await page.getByRole('heading', { name: 'Train a text model' }).waitFor()
  const form = page.getByRole('form', { name: 'Start a training job' })
  await form.getByLabel('preset').selectOption('tiny')
  await form.getByLabel('steps').fill(String(STEPS))
  await form.getByLabel('learning rate').fill('0.02')
  await form.getByRole('button', { name: 'Start training' }).click()

  // the job's progress appears, then the live curve gets points while it trains
  const progress = page.getByTestId('train-progress')
  await progress.waitFor({ timeout: 30_000 })
  const chart = page.locator('[data-testid="train-loss-chart"][data-ready="true"]')
  await chart.waitFor({ timeout: 60_000 })
  const modelId = await chart.getAttribute('data-model')
  assert.match(modelId, /^lm-/)
  const firstPoints = Number(await chart.getAttribute('data-points'))
  assert.ok(firstPoints > 0, 'the curve has points')

  // finished: every logged step is on the curve and the model is completed in the list
  await page.waitForSelector('[data-testid="train-progress"][data-status="completed"]', { timeout: 120_000 })
  await page.waitForSelector(`[data-testid="model-table"] tr[data-model="${modelId}"][data-status="completed"]`, { timeout: 30_000 })
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid="train-loss-chart"]')?.getAttribute('data-last-step') === String(n),
    STEPS,
    { timeout: 30_000 },
  )
  const log = await apiOk(`/text_models/${modelId}/train_log`)
  assert.equal(Number(await chart.getAttribute('data-points')), log.rows.length, 'curve = train_log rows')
  assert.ok(firstPoints <= log.rows.length)
  const m = (await apiOk('/text_models')).items.find((x) => x.model_id === modelId)
  assert.equal(m.status, 'completed')
  assert.equal(m.steps, STEPS)
  const row = page.locator(`[data-testid="model-table"] tr[data-model="${modelId}"]`)
  // the table shows 4 significant digits (fmtNum)
  assert.ok((await row.textContent()).includes(Number(m.val_loss.toPrecision(4)).toString()))

  // sample from it
  const gen = page.getByRole('form', { name: 'Generate a sample' })
  await gen.getByLabel('model to sample from').selectOption(modelId)
  await gen.getByLabel('prompt').fill('The ')
  await gen.getByLabel('max tokens').fill('40')
  await gen.getByRole('button', { name: 'Generate' }).click()
  const out = page.getByTestId('sample-output')
  await out.waitFor({ timeout: 30_000 })
  assert.equal(await out.getAttribute('data-model'), modelId)
  assert.ok(Number(await out.getAttribute('data-tokens')) > 0)

  // promote from the UI
  await row.getByRole('button', { name: `Promote ${modelId}` }).click()
  await page.waitForFunction((id) => document.querySelector(`tr[data-model="${id}"]`)?.textContent?.includes('default'), modelId)

  assert.deepEqual(await axeSerious(page), [])
  await shot(page, 'train')
  assert.deepEqual(problems(), [])
})

test('train: a corpus path outside the artifact root is refused plainly', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/train'))
  const form = page.getByRole('form', { name: 'Start a training job' })
  await form.getByLabel('path', { exact: true }).check()
  await form.getByLabel(/corpus path/).fill('/etc')
  await form.getByRole('button', { name: 'Start training' }).click()
  const alert = form.getByRole('alert')
  await alert.waitFor()
  assert.match(await alert.textContent(), /Error 403: .*outside the artifact root/)
  // a 403 shows in the console as a failed resource load; that is the expected answer here
  assert.deepEqual(problems().filter((p) => !/status of 403/.test(p)), [])
})

test('train: a finished model’s loss curve shows its log on every load (no "no logged steps" race)', async () => {
  const { items } = await apiOk('/text_models')
  const m = items.find((x) => x.status === 'completed')
  const log = await apiOk(`/text_models/${m.model_id}/train_log`)
  assert.ok(log.rows.length > 0)
  const { page, problems } = await newPage(browser)
  for (let i = 0; i < 6; i++) {
    await page.goto(url('/train'))
    await page.getByRole('button', { name: `Show ${m.model_id}` }).click()
    await page.waitForSelector(`[data-testid="train-loss-chart"][data-model="${m.model_id}"][data-last-step="${log.rows.at(-1).step}"]`, { timeout: 15_000 })
    assert.equal(Number(await page.getAttribute('[data-testid="train-loss-chart"]', 'data-points')), log.rows.length, `load ${i + 1}`)
    assert.equal(await page.getByText('This model has no logged steps.').count(), 0)
  }
  assert.deepEqual(problems(), [])
})

test('train: a running job keeps its progress, ETA and Cancel after a reload; tokenizers are grouped, bits/byte shown', async () => {
  // another vocabulary (demo preset: 2,048 tokens) so the list holds two tokenizers
  const job = await apiOk('/text_models/train', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ preset: 'demo', steps: 5000, threads: 1 }),
  })
  const modelId = job.params.model_id
  const { page, problems } = await newPage(browser)
  try {
    for (let i = 0; i < 40; i++) {
      const log = await apiOk(`/text_models/${modelId}/train_log`).catch(() => null)
      if (log?.rows.length >= 2) break
      await new Promise((r) => setTimeout(r, 1000))
    }
    for (const load of ['first load', 'reload']) {
      if (load === 'first load') await page.goto(url('/train'))
      else await page.reload()
      const progress = page.locator(`[data-testid="train-progress"][data-status="running"]`)
      await progress.waitFor({ timeout: 20_000 })
      await page.getByRole('button', { name: 'Cancel training' }).waitFor()
      await page.waitForFunction(() => /ETA /.test(document.querySelector('[data-testid="train-progress"]')?.textContent ?? ''), null, { timeout: 20_000 })
      assert.ok(Number(await progress.getAttribute('data-done')) > 0, `${load}: progress`)
    }
    await page.getByRole('button', { name: 'Cancel training' }).click()
    await page.waitForSelector('[data-testid="train-progress"][data-status="cancelled"]', { timeout: 60_000 })
  } finally {
    await fetch(url(`/api/jobs/${job.job_id}/cancel`), { method: 'POST' })
  }
  // two tokenizers now: a warning, one group each, and bits/byte where a validation loss exists
  const { items } = await apiOk('/text_models')
  // a model without a recorded tokenizer hash (an imported HF model) is its own group
  const toks = new Set(items.map((m) => m.tokenizer_sha256 ?? `model:${m.model_id}`))
  assert.ok(toks.size >= 2)
  await page.reload()
  await page.waitForSelector(`[data-testid="vocab-warning"][data-groups="${toks.size}"]`)
  const groups = await page.$$eval('[data-testid="vocab-group"]', (els) => els.map((e) => ({ ...e.dataset })))
  assert.equal(new Set(groups.map((g) => g.tokenizer)).size, groups.length, 'one tokenizer per group')
  for (const m of items) {
    const row = page.locator(`[data-testid="model-table"] tr[data-model="${m.model_id}"]`)
    assert.equal(await row.locator('xpath=ancestor::tbody').getAttribute('data-tokenizer'), m.tokenizer_sha256 ?? '')
    const bpb = await row.getAttribute('data-bpb')
    if (m.val_bpb === null) assert.equal(bpb, '')
    else assert.ok(Math.abs(Number(bpb) - m.val_bpb) < 1e-12, `${m.model_id} bits/byte`)
  }
  await shot(page, 'train-vocab-groups')
  assert.deepEqual(problems().filter((p) => !/\/stream/.test(p)), [])
})
