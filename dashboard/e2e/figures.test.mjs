// Every figure on screen agrees with the files: each test reads what a view shows (data-*
// attributes, hidden tables) and checks it against per_step.csv / the events of the run.
// Each one failed before its fix (issue 16: t+1 predictions, forks credited with the
// parent's learning, the table ignoring the zoom, and the smaller ones).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { BASE, apiOk, chartReady, launch, newPage, pickSession, shot, url } from './lib.mjs'

let browser
before(async () => {
  browser = await launch()
})
after(async () => browser?.close())

const ds = (page, sel) => page.$eval(sel, (el) => ({ ...el.dataset }))

/** per_step.csv of a run as {t: row} with numbers. */
async function perStepCsv(session, run) {
  const r = await fetch(`${BASE}/api/sessions/${session}/runs/${run}/per_step.csv`)
  assert.equal(r.status, 200)
  const [head, ...lines] = (await r.text()).trim().split('\n')
  const cols = head.split(',')
  const rows = new Map()
  for (const line of lines) {
    const v = line.split(',')
    const row = Object.fromEntries(cols.map((c, i) => [c, Number(v[i])]))
    rows.set(row.t, row)
  }
  return rows
}

const close = (a, b, rel = 1e-4) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + 1e-12

/** A session with a parent (a fork) and a completed run. */
async function pickFork() {
  const { items } = await apiOk('/sessions?limit=1000')
  for (const s of items.filter((x) => x.parent)) {
    const d = await apiOk(`/sessions/${s.session_id}`)
    const run = d.runs.find((r) => r.status === 'completed' && r.t_end - r.t_start >= 100)
    if (run) return { s, d, run }
  }
  throw new Error('the demo folder has no fork with a completed run of 100+ steps')
}

test('environment: the prediction error at t equals per_step.csv at the same t', async () => {
  const s = await pickSession()
  const csv = await perStepCsv(s.session_id, s.run.run_id)
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/environment', { session: s.session_id, run: s.run.run_id }))
  await chartReady(page, 'state-error')
  const rows = await page.$$eval('[data-testid="prediction-error-sample"] tr', (els) => els.map((e) => ({ ...e.dataset })))
  assert.ok(rows.length >= 10, `sampled error rows: ${rows.length}`)
  for (const r of rows) {
    const want = csv.get(Number(r.t))
    // The page squares the difference of the stored float32 prediction and observation (both
    // about 1); per_step.csv holds the runner's float32 MSE. Where the error is ~5e-4 (MSE
    // ~2e-7), float32 rounding of the two operands alone moves the MSE by ~1e-4 relative.
    assert.ok(close(Number(r.adaptive), want.adaptive_mse, 1e-3), `adaptive error at t=${r.t}: shown ${r.adaptive}, per_step.csv ${want.adaptive_mse}`)
    assert.ok(close(Number(r.baseline), want.baseline_mse, 1e-3), `baseline error at t=${r.t}: shown ${r.baseline}, per_step.csv ${want.baseline_mse}`)
  }
  // the chart's own summary (hidden table): its last adaptive value is the last step with a
  // known next state (the run's second-to-last step)
  const last = await page.$eval('#state-error-summary tr[data-series="adaptive_err"] td[data-last]', (td) => Number(td.dataset.last))
  assert.ok(close(last, csv.get(s.run.t_end - 2).adaptive_mse), `chart's last adaptive error ${last} vs per_step.csv ${csv.get(s.run.t_end - 2).adaptive_mse}`)
  assert.equal(await page.getAttribute('[data-testid="state-series"]', 'data-aligned'), 'true')
  await shot(page, 'environment-aligned')
  assert.deepEqual(problems(), [])
})

test('overview: a fork’s improvement is against its own starting weights, not the pretrained base', async () => {
  const { s, run } = await pickFork()
  const csv = [...(await perStepCsv(s.session_id, run.run_id)).values()].slice(-100)
  const m = (k) => csv.reduce((x, r) => x + r[k], 0) / csv.length
  const own = 1 - m('adaptive_mse') / m('frozen_mse')
  const vsBase = 1 - m('adaptive_mse') / m('baseline_mse')
  assert.ok(Math.abs(own - vsBase) > 0.01, 'the demo fork’s start differs from the base')
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', { session: s.session_id, run: run.run_id }))
  await page.waitForSelector('[data-testid="stat-improvement"][data-ratio]:not([data-ratio=""])')
  const st = await ds(page, '[data-testid="stat-improvement"]')
  assert.equal(st.reference, 'fork_start')
  assert.ok(close(Number(st.ratio), own, 1e-9), `hero improvement ${st.ratio}, fork’s own ${own}`)
  const shown = await page.$eval('[data-testid="stat-improvement"] [data-value]', (e) => e.dataset.value)
  const pct = (x) => `${x > 0 ? '+' : ''}${(x * 100).toFixed(Math.abs(x) > 0.99 ? 2 : 1)}%`
  assert.equal(shown, pct(own), 'the big number is the fork’s own gain')
  assert.ok(close(Number(st.ratioVsBase), vsBase, 1e-9), 'the base comparison is still given, labelled')
  const base = await ds(page, '[data-testid="stat-baseline"]')
  assert.ok(close(Number(base.value), m('frozen_mse'), 1e-9), 'first card: the fork start’s MSE')
  await chartReady(page, 'mse-chart')
  assert.equal(await page.getAttribute('[data-testid="mse-chart"]', 'data-reference'), 'fork_start')
  await shot(page, 'overview-fork')
  assert.deepEqual(problems(), [])
})

test('transactions and overview: the table and the "steps in view" follow the zoom window', async () => {
  const s = await pickSession()
  const [t0, t1] = [s.run.t_start, s.run.t_end]
  const from = t0 + Math.floor((t1 - t0) * 0.3)
  const to = t0 + Math.floor((t1 - t0) * 0.6)
  const all = await apiOk(`/sessions/${s.session_id}/runs/${s.run.run_id}/events?limit=5000`)
  const want = all.items.filter((e) => e.t >= from && e.t < to).map((e) => e.t)
  assert.ok(want.length > 0 && want.length < all.total, 'the window holds some but not all events')
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/transactions', { session: s.session_id, run: s.run.run_id, from, to }))
  await page.waitForSelector(`[data-testid="event-table"][data-total="${want.length}"]`)
  await page.waitForSelector('[data-testid="event-table"] [role="row"][data-t]')
  const shownT = await page.$$eval('[data-testid="event-table"] [role="row"][data-t]', (els) => els.map((e) => Number(e.dataset.t)))
  assert.deepEqual(shownT, want.slice(0, shownT.length), 'rows are the window’s events in t order')
  await shot(page, 'transactions-zoomed')
  await page.goto(url('/nano/overview', { session: s.session_id, run: s.run.run_id, from, to }))
  await page.waitForSelector(`[data-testid="mse-chart"][data-start="${from}"][data-ready="true"]`)
  assert.equal(Number(await page.getAttribute('[data-testid="mse-chart"]', 'data-rows')), to - from)
  const sub = await page.textContent('section[aria-labelledby="mse-title"] header')
  assert.match(sub, new RegExp(`${(to - from).toLocaleString('en-US')} steps in view`))
  assert.deepEqual(problems(), [])
})

test('event panel and detail count attempts the same way', async () => {
  const s = await pickSession()
  const ev = (await apiOk(`/sessions/${s.session_id}/runs/${s.run.run_id}/events?limit=20`)).items[6]
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', { session: s.session_id, run: s.run.run_id, event: ev.t, t: ev.t }))
  await page.waitForSelector(`[data-testid="event-detail"][data-t="${ev.t}"]`)
  const pos = await ds(page, '[data-testid="event-position"]')
  assert.equal(Number(pos.position), 7, 'the 7th attempt of the run')
  const head = await page.textContent('[data-testid="event-detail"]')
  // a one-run session that is no fork: the engine's lineage counter is the run position
  if (!s.detail.meta.parent && s.detail.runs.length === 1) assert.match(head, /engine attempt 7 \(lineage\)/)
  assert.doesNotMatch(head, /attempt #6/)
  assert.deepEqual(problems(), [])
})

test('transactions: limits are drawn only where they can be (none without a check, far ones named off the axis)', async () => {
  const s = await pickSession()
  const evs = (await apiOk(`/sessions/${s.session_id}/runs/${s.run.run_id}/events?limit=5000`)).items
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/transactions', { session: s.session_id, run: s.run.run_id }))
  await chartReady(page, 'thr-state')
  const hasGradCheck = evs.some((e) => (e.checks ?? []).some((c) => c.name.startsWith('grad_norm') && c.threshold !== null))
  const grad = await ds(page, '[data-testid="thr-grad"]')
  assert.equal(grad.series.split(',').includes('grad_limit'), hasGradCheck, 'a limit legend only with a limit line')
  const maxH = Math.max(...evs.flatMap((e) => [e.pre_max_h ?? 0, e.post_max_h ?? 0]))
  const limit = evs.flatMap((e) => (e.checks ?? []).filter((c) => c.name.startsWith('state_norm'))).map((c) => c.threshold)[0]
  const state = await ds(page, '[data-testid="thr-state"]')
  if (limit > 100 * maxH) {
    assert.ok(!state.series.split(',').includes('state_limit'), 'the 1e6 limit does not set the axis')
    assert.match(await page.textContent('[data-testid="thr-state-note"]'), /decades above the data/)
    const ymax = await page.$eval('#thr-state-summary tr[data-series="post_max_h"] td[data-max]', (td) => Number(td.dataset.max))
    assert.ok(ymax < 100 * maxH)
  }
  assert.deepEqual(problems(), [])
})

test('weights: each matrix has its own axis; overview marks the μ jump and names the oracle off a log axis', async () => {
  const { page, problems } = await newPage(browser)
  const s = await pickSession()
  await page.goto(url('/nano/weights', { session: s.session_id, run: s.run.run_id }))
  await page.waitForSelector('[data-testid="weight-stats"][data-layout="per-matrix"]')
  for (const name of ['W_u', 'B', 'W_o']) {
    await chartReady(page, `wstat-fro-${name}`)
    assert.equal(await page.getAttribute(`[data-testid="wstat-fro-${name}"]`, 'data-series'), name)
  }
  const { items } = await apiOk('/sessions?limit=1000')
  const jump = []
  for (const it of items) {
    const d = await apiOk(`/sessions/${it.session_id}`)
    if (d.meta.env_cfg?.schedule === 'jump' && d.runs.length) jump.push(d)
  }
  assert.ok(jump.length, 'the demo has a μ-jump session')
  const d = jump[0]
  await page.goto(url('/nano/overview', { session: d.meta.session_id, log: 1 }))
  await chartReady(page, 'mse-chart')
  const chart = await ds(page, '[data-testid="mse-chart"]')
  assert.equal(Number(chart.muJump), d.meta.env_cfg.jump_step)
  const ps = await apiOk(`/sessions/${d.meta.session_id}/runs/${d.runs.at(-1).run_id}/per_step?points=5000`)
  if (ps.series.oracle_mse?.mean.every((v) => v === 0)) {
    assert.equal(chart.oracleZero, 'true')
    assert.ok(await page.getByRole('button', { name: /oracle \(MSE 0: not drawable on a log axis\)/ }).count())
  }
  // numbers never wrap inside themselves ("1.2e-" / "5")
  assert.equal(await page.$eval('.tabular', (e) => getComputedStyle(e).whiteSpace), 'nowrap')
  await page.goto(url('/nano/environment', { session: d.meta.session_id }))
  await chartReady(page, 'state-error')
  assert.equal(Number(await page.getAttribute('[data-testid="state-error"]', 'data-mu-jump')), d.meta.env_cfg.jump_step)
  assert.deepEqual(problems(), [])
})
