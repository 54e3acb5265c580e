// Accessibility: axe-core on every tab, no serious or critical violations.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiOk, axeSerious, launch, newPage, pickSession, url } from './lib.mjs'

let browser, s, run
before(async () => {
  browser = await launch()
  s = await pickSession()
  run = s.run
})
after(async () => browser?.close())

const READY = {
  overview: '[data-testid="mse-chart"][data-ready="true"]',
  weights: '[data-testid="heatmap-B"]',
  transactions: '[data-testid="event-table"] [role="row"][data-t]',
  environment: '[data-testid="trajectory-canvas"]',
  architecture: '[data-testid="flow-diagram"]',
  sessions: '[data-testid="lineage-tree"]',
}

for (const [tab, sel] of Object.entries(READY)) {
  test(`axe: ${tab} has no serious or critical violations`, async () => {
    const { page, problems } = await newPage(browser)
    await page.goto(url(`/nano/${tab}`, { session: s.session_id, run: run.run_id }))
    await page.waitForSelector(sel)
    await page.waitForTimeout(300)
    const v = await axeSerious(page)
    assert.deepEqual(v, [], JSON.stringify(v, null, 2))
    assert.deepEqual(problems(), [])
  })
}

test('axe: event panel open', async () => {
  const { page } = await newPage(browser)
  const ev = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/events?limit=1&sort=t`)
  await page.goto(url('/nano/overview', { session: s.session_id, run: run.run_id, event: ev.items[0].t }))
  await page.waitForSelector('[data-testid="event-detail"]')
  const v = await axeSerious(page)
  assert.deepEqual(v, [], JSON.stringify(v, null, 2))
})
