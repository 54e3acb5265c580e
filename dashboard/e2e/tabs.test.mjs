// Every Nano tab renders real data from the API (compared with the API's own answers),
// with no console errors or warnings; a screenshot of each lands in test-results/.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiOk, chartReady, launch, newPage, pickSession, shot, url } from './lib.mjs'

let browser, s, detail, run
before(async () => {
  browser = await launch()
  s = await pickSession()
  detail = s.detail
  run = s.run
})
after(async () => browser?.close())

const q = () => ({ session: s.session_id, run: run.run_id })
const ds = (page, sel) => page.$eval(sel, (el) => ({ ...el.dataset }))

test('overview: hero metrics, MSE chart, timeline and identity match the API', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', q()))
  await chartReady(page, 'mse-chart')
  const ps = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/per_step?points=5000`)
  const chart = await ds(page, '[data-testid="mse-chart"]')
  assert.equal(Number(chart.total), ps.total, 'rows in view = rows of the run')
  assert.ok(Number(chart.points) > 10, 'chart has points')
  assert.ok(Number(chart.markers) > 0 && Number(chart.markers) <= ps.updates_total, 'markers: at most one per attempt')
  assert.equal(chart.series.split(',').slice(0, 2).join(','), 'baseline,adaptive')
  const commits = await page.textContent('[data-testid="stat-commits"]')
  const n = (x) => Number(x).toLocaleString('en-US')
  assert.ok(commits.includes(`${n(detail.metrics.updates_committed)} / ${n(detail.metrics.updates_attempted)}`), commits)
  assert.equal((await page.textContent('[data-testid="resume-command"]')).trim(), detail.resume_command)
  const totals = await page.$$eval('[data-testid="timeline-totals"] [data-status]', (els) => els.map((e) => [e.dataset.status, Number(e.dataset.count)]))
  const ev = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/events?limit=1`)
  assert.deepEqual(Object.fromEntries(totals), ev.counts, 'running totals = the run\'s event counts')
  // smoothing and log toggles refetch nothing but change the plotted series
  await page.getByRole('button', { name: 'smoothed' }).click()
  await page.waitForSelector('[data-testid="mse-chart"][data-smooth="true"]')
  assert.ok((await ds(page, '[data-testid="mse-chart"]')).series.includes('adaptive_raw'))
  await shot(page, 'overview')
  assert.deepEqual(problems(), [])
})

test('overview: clicking a timeline node opens the event in a slide-out', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', q()))
  await chartReady(page, 'tx-timeline')
  const ps = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/per_step?points=5000`)
  const target = ps.updates.find((u) => u.status !== 'commit') ?? ps.updates[0]
  const tl = await ds(page, '[data-testid="tx-timeline"]')
  const box = await page.locator('[data-testid="tx-timeline"] .u-over').boundingBox()
  const x = box.x + ((target.t - Number(tl.scaleMin)) / (Number(tl.scaleMax) - Number(tl.scaleMin))) * box.width
  await page.mouse.click(x, box.y + box.height / 2)
  await page.waitForSelector(`[data-testid="event-detail"][data-t="${target.t}"]`)
  assert.equal(await page.getAttribute('[data-testid="event-detail"]', 'data-status'), target.status)
  const text = await page.textContent('[data-testid="event-explanation"]')
  assert.match(text, target.status === 'commit' ? /committed|improved/i : /Rolled back|Blocked/)
  assert.match(page.url(), new RegExp(`event=${target.t}`))
  await shot(page, 'overview-event-panel')
  assert.deepEqual(problems(), [])
})

test('weights: heatmaps have the architecture shapes; stats and spectrum render', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/weights', q()))
  const arch = await apiOk(`/sessions/${s.session_id}/architecture`)
  const hist = await apiOk(`/sessions/${s.session_id}/weights`)
  for (const name of ['W_u', 'B', 'W_o']) {
    const el = page.locator(`[data-testid="heatmap-${name}"]`)
    await el.waitFor()
    assert.equal(Number(await el.getAttribute('data-rows')), arch.shapes[name][0])
    assert.equal(Number(await el.getAttribute('data-cols')), arch.shapes[name][1])
  }
  const last = hist.items.at(-1)
  const k = await ds(page, '[data-testid="weight-k"]')
  assert.equal(Number(k.k), last.k)
  const w = await apiOk(`/sessions/${s.session_id}/weights/${last.k}`)
  const fro = Math.hypot(...w.matrices.B.data)
  assert.ok(Math.abs(Number(await page.getAttribute('[data-testid="heatmap-B"]', 'data-fro')) - fro) < 1e-9 * Math.max(1, fro))
  for (const name of ['W_u', 'B', 'W_o']) await chartReady(page, `wstat-fro-${name}`)
  assert.equal(Number(await page.getAttribute('[data-testid="weight-stats"]', 'data-updates')), hist.items.length)
  await page.waitForSelector('[data-testid="spectrum"] [data-matrix="B"]')
  if (hist.items.length > 1) await page.waitForSelector('[data-testid="weight-delta"]')
  // the slider moves k
  const slider = page.getByTestId('weight-k-slider')
  await slider.focus()
  await page.keyboard.press('Home')
  await page.waitForSelector('[data-testid="weight-k"][data-k="0"]')
  await shot(page, 'weights')
  assert.deepEqual(problems(), [])
})

test('transactions: table, breakdown, rollbacks over time and threshold charts', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/transactions', q()))
  const ev = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/events?limit=1`)
  await page.waitForSelector(`[data-testid="event-table"][data-total="${ev.total}"]`)
  const bd = await ds(page, '[data-testid="rollback-breakdown"]')
  assert.equal(Number(bd.total), Object.values(ev.counts).reduce((a, b) => a + b, 0))
  await chartReady(page, 'thr-grad')
  await chartReady(page, 'thr-loss')
  await chartReady(page, 'thr-state')
  assert.equal(Number((await ds(page, '[data-testid="thr-loss"]')).events), Math.min(ev.total, 2000))
  // expand the first rollback (or first row) and read its plain-English reason
  const firstRow = page.locator('[data-testid="event-table"] [role="row"][data-t]').first()
  await firstRow.getByRole('button').click()
  await page.waitForSelector('[data-testid="event-table"] [data-testid="event-explanation"]')
  // sort by grad norm, descending
  const gradHeader = page.getByTestId('event-table').getByRole('button', { name: /grad norm/ })
  await gradHeader.click()
  // the second click reads the sort the first one set: wait for it, or it sorts ascending again
  await page.waitForURL(/sort=grad_norm/)
  await gradHeader.click()
  await page.waitForURL(/sort=-grad_norm/)
  const top = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/events?limit=1&sort=-grad_norm`)
  await page.waitForSelector(`[data-testid="event-table"] [role="row"][data-t="${top.items[0].t}"]`)
  await shot(page, 'transactions')
  assert.deepEqual(problems(), [])
})

test('environment: trajectory, series, μ gauge', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/environment', q()))
  const tr = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/trajectory?points=2000`)
  await page.waitForSelector(`[data-testid="trajectory-canvas"][data-points="${tr.t.length}"]`)
  for (const c of ['x', 'y', 'vx', 'vy']) await chartReady(page, `state-${c}`)
  assert.equal(Number(await page.getAttribute('[data-testid="mu-gauge"]', 'data-mu')), detail.meta.mu)
  // hovering the trajectory moves the global cursor: the series charts show the linked line
  const box = await page.locator('[data-testid="trajectory-canvas"] canvas[role="img"]').boundingBox()
  const mid = tr.obs[Math.floor(tr.obs.length / 2)]
  void mid
  // sweep until the pointer is near the path
  let linked = false
  for (let fx = 0.1; fx < 0.95 && !linked; fx += 0.05)
    for (let fy = 0.1; fy < 0.95 && !linked; fy += 0.1) {
      await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy)
      linked = await page.$eval('[data-testid="state-x"] [data-cursor="linked"]', (el) => !el.classList.contains('hidden'))
    }
  assert.ok(linked, 'hovering the trajectory shows the linked cursor on the x(t) chart')
  await page.mouse.move(0, 0)
  // replay: scrub to the end
  const scrub = page.getByTestId('replay-scrub')
  await scrub.focus()
  await page.keyboard.press('End')
  await page.waitForFunction((t) => document.querySelector('[data-testid="trajectory-canvas"]')?.dataset.cursorT === String(t), tr.t.at(-1))
  await shot(page, 'environment')
  assert.deepEqual(problems(), [])
})

test('architecture: diagram, decay histogram, parameter counts, Muon', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/architecture', q()))
  const arch = await apiOk(`/sessions/${s.session_id}/architecture`)
  await page.waitForSelector('[data-testid="flow-diagram"]')
  const dh = await ds(page, '[data-testid="decay-histogram"]')
  assert.equal(Number(dh.n), arch.decay.length)
  assert.equal(dh.allInUnit, 'true')
  const pc = await ds(page, '[data-testid="param-counts"]')
  assert.equal(Number(pc.plastic), Object.values(arch.param_counts.plastic).reduce((a, b) => a + b, 0))
  assert.equal(Number(pc.frozen), Object.values(arch.param_counts.frozen).reduce((a, b) => a + b, 0))
  assert.ok((await page.textContent('[data-testid="muon-explainer"]')).includes(String(arch.muon.ns_steps)))
  await shot(page, 'architecture')
  assert.deepEqual(problems(), [])
})

test('sessions: list, compare, lineage, files, base', async () => {
  const { page, problems } = await newPage(browser)
  const all = await apiOk('/sessions?limit=1000')
  const ids = all.items.filter((x) => x.last_run_id && x.session_id !== 'scale-1m').slice(0, 3).map((x) => x.session_id)
  await page.goto(url('/nano/sessions', { ...q(), compare: ids.join(',') }))
  await page.waitForSelector(`[data-testid="sessions-table"][data-total="${all.total}"]`)
  await chartReady(page, 'compare-chart')
  assert.equal(await page.getAttribute('[data-testid="compare-view"]', 'data-sessions'), ids.join(','))
  const lin = await apiOk('/lineage')
  await page.waitForSelector(`[data-testid="lineage-tree"][data-nodes="${lin.nodes.length}"]`)
  const files = await apiOk(`/sessions/${s.session_id}/files`)
  await page.waitForSelector(`[data-testid="files-list"][data-count="${files.items.length}"]`)
  assert.equal((await page.textContent('[data-testid="sessions-resume-command"]')).trim(), detail.resume_command)
  await page.waitForSelector('[data-testid="base-info"]')
  await shot(page, 'sessions')
  assert.deepEqual(problems(), [])
})

test('every area is a real page: Text, Chat and Train render their headings and forms', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/text'))
  await page.getByRole('heading', { level: 1, name: 'Text — the Sentry monitor and the red team' }).waitFor()
  await page.getByRole('form', { name: 'Start a Sentry run' }).waitFor()
  await page.goto(url('/chat'))
  await page.getByRole('heading', { level: 1, name: 'Chat — sessions with fast weights, and sleep' }).waitFor()
  await page.getByRole('form', { name: 'Create a chat session' }).waitFor()
  await page.goto(url('/train'))
  await page.getByRole('heading', { level: 1, name: 'Train text models' }).waitFor()
  await page.getByRole('heading', { name: 'Train a text model' }).waitFor()
  assert.deepEqual(problems(), [])
})

test('exports: the MSE chart downloads CSV, SVG and PNG of what it shows', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', q()))
  await chartReady(page, 'mse-chart')
  const chart = page.getByTestId('mse-chart')
  const grab = async (name) => {
    const [dl] = await Promise.all([page.waitForEvent('download'), chart.getByRole('button', { name, exact: true }).click()])
    const path = await dl.path()
    const { readFileSync } = await import('node:fs')
    return { name: dl.suggestedFilename(), bytes: readFileSync(path) }
  }
  const csv = await grab('CSV')
  const lines = csv.bytes.toString('utf8').trim().split('\n')
  // min/max band columns come with a bucketed window only
  const banded = Number(await chart.getAttribute('data-bucket')) > 1
  assert.match(lines[0], banded ? /^t,baseline,baseline_min,baseline_max,adaptive/ : /^t,baseline,adaptive/)
  assert.equal(lines.length - 1, Number(await chart.getAttribute('data-points')))
  const svg = await grab('SVG')
  assert.match(svg.bytes.toString('utf8'), /^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  const png = await grab('PNG')
  assert.deepEqual([...png.bytes.subarray(1, 4)], [0x50, 0x4e, 0x47])
  assert.match(png.name, /\.png$/)
  assert.deepEqual(problems(), [])
})

test('when the API is unreachable the page says so (no stand-in data)', async () => {
  const { page } = await newPage(browser)
  await page.route('**/api/**', (r) => r.abort('connectionrefused'))
  await page.goto(url('/nano/overview'))
  await page.getByTestId('api-unreachable').waitFor()
  assert.match(await page.textContent('[data-testid="api-unreachable"]'), /API unreachable at http:\/\/.+\/api/)
  assert.equal(await page.$('[data-testid="mse-chart"]'), null)
})
