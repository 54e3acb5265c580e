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
