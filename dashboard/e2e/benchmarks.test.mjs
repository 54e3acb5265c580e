// Benchmarks page and the chat memory probe, in the real browser against a real server over
// the `ttt demo --quick` folder (which saves a memory benchmark on the demo TinyLm) plus the
// jailbreak result scripts/e2e.sh saves with the real `ttt bench jailbreak`: the tables and
// charts show exactly the saved rows; a malformed result file is named and the rest still
// lists; the probe panel shows two results whose losses equal what the API and the CLI return
// for the same question. Screenshots: test-results/benchmarks-memory.png,
// benchmarks-jailbreak.png, chat-probe.png.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { apiOk, axeSerious, launch, newPage, shot, url } from './lib.mjs'

const ROOT = process.env.TTT_ARTIFACTS_ROOT
const QUESTION = 'Who is the lighthouse keeper of Varnholm island?'
const EXPECTED = 'Edda Quist'

let browser
before(async () => {
  browser = await launch()
})
after(async () => browser?.close())

/** result.json as the CLI wrote it. */
function saved(id) {
  assert.ok(ROOT, 'TTT_ARTIFACTS_ROOT names the artifact folder (scripts/e2e.sh sets it)')
  return JSON.parse(readFileSync(join(ROOT, 'benchmarks', id, 'result.json'), 'utf8'))
}

/** A cell's data-value as the number (or null) it stands for. */
const val = (s) => (s === '' || s === undefined ? null : Number(s))

test('benchmarks: a saved memory result shows its rows and its recall/binding curves exactly', async () => {
  const doc = saved('demo-memory')
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview'))
  await page.getByRole('navigation', { name: 'Areas' }).getByRole('link', { name: 'Benchmarks' }).click()
  await page.waitForSelector('[data-testid="bench-list"] tr[data-result="demo-memory"]')
  await page.locator('[data-testid="bench-list"] tr[data-result="demo-memory"] button').click()
  await page.waitForSelector('[data-testid="bench-result"][data-result="demo-memory"]')
  assert.equal(new URL(page.url()).searchParams.get('result'), 'demo-memory')
  assert.equal(await page.textContent('[data-testid="bench-command"]'), doc.argv.join(' '))
  // every saved row is one table row, every metric its saved value
  await page.waitForSelector(`[data-testid="bench-memory-table"][data-count="${doc.rows.length}"]`)
  for (const r of doc.rows) {
    const row = page.locator(`[data-testid="bench-memory-table"] tr[data-model="${r.model}"][data-n-facts="${r.n_facts}"][data-condition="${r.condition}"]`)
    const cells = await row.locator('td[data-key]').evaluateAll((tds) => tds.map((td) => ({ ...td.dataset })))
    const byKey = Object.fromEntries(cells.map((c) => [c.key, c]))
    for (const k of ['recall', 'binding', 'wrong_fact', 'control_leak', 'control_guess', 'commit_rate', 'seconds']) {
      assert.equal(val(byKey[k].value), r[k], `${r.condition} n=${r.n_facts} ${k}`)
    }
    assert.equal(val(byKey.ppl.before), r.ppl_before)
    assert.equal(val(byKey.ppl.after), r.ppl_after)
  }
  // the charts: x = the numbers of facts, one series per condition with the saved values
  for (const metric of ['recall', 'binding']) {
    const chart = page.locator(`[data-testid="bench-${metric}-chart"]`)
    await chart.and(page.locator('[data-ready="true"]')).waitFor()
    const x = JSON.parse(await chart.getAttribute('data-x'))
    const values = JSON.parse(await chart.getAttribute('data-values'))
    assert.deepEqual(x, [...new Set(doc.rows.map((r) => r.n_facts))].sort((a, b) => a - b))
    for (const r of doc.rows) assert.equal(values[`${r.model}:${r.condition}`][x.indexOf(r.n_facts)], r[metric], `${metric} ${r.condition} ${r.n_facts}`)
  }
  await shot(page, 'benchmarks-memory')
  const v = await axeSerious(page)
  assert.deepEqual(v, [], JSON.stringify(v, null, 2))
  assert.deepEqual(problems(), [])
})

test('benchmarks: a jailbreak result made by the real CLI renders its refusal curves and its table per defence', async () => {
  const doc = saved('e2e-jailbreak')
  const { page, problems } = await newPage(browser)
  await page.goto(url('/benchmarks', { result: 'e2e-jailbreak' }))
  const chart = page.locator('[data-testid="bench-refusal-chart"][data-ready="true"]')
  await chart.waitFor()
  const curves = JSON.parse(await chart.getAttribute('data-curves'))
  assert.deepEqual(Object.keys(curves).sort(), doc.rows.map((r) => r.defence).sort())
  assert.deepEqual(JSON.parse(await chart.getAttribute('data-x')), doc.rows[0].curve_updates)
  for (const r of doc.rows) assert.deepEqual(curves[r.defence], r.refusal_by_update, r.defence)
  // the hidden summary table of the chart: each defence's last point
  for (const r of doc.rows) {
    const last = await page.getAttribute(`#bench-refusal-chart-summary tr[data-series="${r.defence}"] td[data-last]`, 'data-last')
    assert.equal(val(last), r.refusal_by_update[r.refusal_by_update.length - 1])
  }
  await page.waitForSelector(`[data-testid="bench-jailbreak-table"][data-count="${doc.rows.length}"]`)
  for (const r of doc.rows) {
    const cells = await page.locator(`[data-testid="bench-jailbreak-table"] tr[data-defence="${r.defence}"] td[data-key]`).evaluateAll((tds) => tds.map((td) => ({ ...td.dataset })))
    const by = Object.fromEntries(cells.map((c) => [c.key, c]))
    assert.equal(val(by.asr_at_10.value), r.asr_at_10)
    assert.equal(val(by.asr_at_10.ciLow), r.asr_ci_low)
    assert.equal(val(by.asr_at_10.ciHigh), r.asr_ci_high)
    assert.equal(val(by.trials.value), r.trials)
    assert.equal(val(by.over_refusal.value), r.over_refusal)
    assert.equal(val(by.benign_gain_kept.value), r.benign_gain_kept)
    assert.equal(val(by.commit_rate.value), r.commit_rate)
    assert.equal(val(by.detection_latency.value), r.detection_latency)
    assert.equal(val(by.detection_latency.detected), r.detected_trials)
  }
  // the demo TinyLm refuses nothing before any update: the page says the figures mean nothing
  const before = doc.rows.map((r) => r.refusal_by_update[0])
  assert.equal(await page.locator('[data-testid="bench-not-refusing"]').count(), before.every((b) => b === 0) ? 1 : 0)
  await shot(page, 'benchmarks-jailbreak')
  assert.deepEqual(problems(), [])
})

test('benchmarks: a malformed result file is named and every other result still lists', async () => {
  const dir = join(ROOT, 'benchmarks', 'e2e-broken')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ schema_version: 1, kind: 'memory', id: 'e2e-broken', rows: [{ n_facts: 'four' }] }))
  try {
    const listed = await apiOk('/benchmarks')
    const { page } = await newPage(browser)
    await page.goto(url('/benchmarks'))
    await page.waitForSelector(`[data-testid="bench-list"][data-count="${listed.items.length}"]`)
    const err = page.locator('[data-testid="bench-errors"] li[data-result="e2e-broken"]')
    assert.match(await err.textContent(), /e2e-broken\/result\.json: rows\[0\]\.n_facts/)
    assert.ok(listed.items.some((i) => i.id === 'demo-memory'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('chat: the memory probe shows both sides, with the losses the API and the CLI give for the same question', async () => {
  const sid = 'demo-chat'
  const session = await apiOk(`/chat/sessions/${sid}`)
  const { page, problems } = await newPage(browser)
  await page.goto(url('/chat', { session: sid }))
  const form = page.getByRole('form', { name: 'Memory probe' })
  await form.waitFor()
  await form.getByLabel('question', { exact: true }).fill(QUESTION)
  await form.getByLabel(/expected answer/).fill(EXPECTED)
  await form.getByRole('button', { name: 'Ask with and without' }).click()
  const res = page.locator('[data-testid="probe-result"]')
  await res.waitFor({ timeout: 60_000 })
  const sides = await res.locator('[data-side]').evaluateAll((els) => els.map((e) => ({ ...e.dataset })))
  assert.deepEqual(sides.map((s) => s.side), ['with', 'without'])

  const api = await apiOk(`/chat/sessions/${sid}/probe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ question: QUESTION, expected: EXPECTED, max_tokens: 24 }),
  })
  const cli = JSON.parse(
    execFileSync('ttt', ['chat', 'probe', sid, '--question', QUESTION, '--expected', EXPECTED, '--json', '--artifacts-root', ROOT], { encoding: 'utf8' }),
  )
  for (const [side, key] of [['with', 'with_fast_weights'], ['without', 'without_fast_weights']]) {
    const shown = sides.find((s) => s.side === side)
    assert.equal(Number(shown.loss), api[key].loss, `${side}: page vs API`)
    assert.equal(api[key].loss, cli[key].loss, `${side}: API vs CLI`)
    assert.equal(shown.answer, api[key].answer)
    assert.equal(cli[key].answer, api[key].answer)
  }
  assert.equal(Number(await res.getAttribute('data-loss-delta')), api.loss_delta)
  assert.notEqual(api.with_fast_weights.loss, api.without_fast_weights.loss) // the session learned something
  assert.equal(Number(await res.getAttribute('data-turns')), session.session.n_turns)
  // read-only: the session is unchanged
  const afterProbe = await apiOk(`/chat/sessions/${sid}`)
  assert.equal(afterProbe.session.state_version, session.session.state_version)
  assert.equal(afterProbe.session.updated_at, session.session.updated_at)
  await shot(page, 'chat-probe')
  const v = await axeSerious(page)
  assert.deepEqual(v, [], JSON.stringify(v, null, 2))
  assert.deepEqual(problems(), [])
})
