// Keyboard: tabs reachable with Tab and switched with arrows, ←/→ step the global cursor,
// Esc closes the event panel.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { apiOk, chartReady, launch, newPage, pickSession, url } from './lib.mjs'

let browser, s, run
before(async () => {
  browser = await launch()
  s = await pickSession()
  run = s.run
})
after(async () => browser?.close())

test('Tab reaches the Nano tabs; arrows switch tabs and move focus', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', { session: s.session_id, run: run.run_id }))
  await chartReady(page, 'mse-chart')
  let onTab = false
  for (let i = 0; i < 40 && !onTab; i++) {
    await page.keyboard.press('Tab')
    onTab = await page.evaluate(() => document.activeElement?.getAttribute('role') === 'tab')
  }
  assert.ok(onTab, 'a tab is reachable with Tab')
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Overview')
  await page.keyboard.press('ArrowRight')
  await page.waitForURL(/\/nano\/weights/)
  await page.waitForFunction(() => document.activeElement?.getAttribute('aria-selected') === 'true')
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Weights')
  await page.keyboard.press('End')
  await page.waitForURL(/\/nano\/sessions/)
  await page.keyboard.press('Home')
  await page.waitForURL(/\/nano\/overview/)
  assert.match(page.url(), new RegExp(`session=${s.session_id}`), 'tabs keep the view state')
  assert.deepEqual(problems(), [])
})

test('←/→ step the global time cursor and write it to the URL', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', { session: s.session_id, run: run.run_id }))
  await chartReady(page, 'mse-chart')
  await page.locator('h1, main').first().click({ position: { x: 1, y: 1 } }).catch(() => {})
  await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur())
  await page.keyboard.press('Home')
  const t0 = Number(await page.inputValue('[data-testid="cursor-input"]'))
  assert.equal(t0, run.t_start)
  await page.keyboard.press('ArrowRight')
  await page.keyboard.press('ArrowRight')
  const t2 = Number(await page.inputValue('[data-testid="cursor-input"]'))
  assert.ok(t2 > t0, `cursor moved right (${t0} → ${t2})`)
  await page.keyboard.press('ArrowLeft')
  const t1 = Number(await page.inputValue('[data-testid="cursor-input"]'))
  assert.ok(t1 < t2 && t1 > t0)
  await page.waitForURL(new RegExp(`[?&]t=${t1}`))
  // the pinned cursor line is drawn on the chart
  assert.equal(await page.$eval('[data-testid="mse-chart"] [data-cursor="pinned"]', (el) => el.classList.contains('hidden')), false)
  assert.deepEqual(problems(), [])
})

test('Esc closes the event panel', async () => {
  const { page, problems } = await newPage(browser)
  const ev = await apiOk(`/sessions/${s.session_id}/runs/${run.run_id}/events?limit=1&sort=t`)
  await page.goto(url('/nano/overview', { session: s.session_id, run: run.run_id, event: ev.items[0].t }))
  await page.waitForSelector('[data-testid="event-panel"] [data-testid="event-detail"]')
  await page.keyboard.press('Escape')
  await page.waitForSelector('[data-testid="event-panel"]', { state: 'detached' })
  assert.doesNotMatch(page.url(), /event=/)
  assert.deepEqual(problems(), [])
})

test('drag on the MSE chart zooms; the window is refetched exactly; reset restores', async () => {
  const { page, problems } = await newPage(browser)
  await page.goto(url('/nano/overview', { session: s.session_id, run: run.run_id }))
  await chartReady(page, 'mse-chart')
  const box = await page.locator('[data-testid="mse-chart"] .u-over').boundingBox()
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 5 })
  await page.mouse.up()
  await page.waitForURL(/from=\d+&to=\d+/)
  const u = new URL(page.url())
  const from = Number(u.searchParams.get('from'))
  const to = Number(u.searchParams.get('to'))
  assert.ok(to > from)
  await page.waitForSelector(`[data-testid="mse-chart"][data-start="${from}"][data-end="${to}"][data-ready="true"]`)
  const d = await page.$eval('[data-testid="mse-chart"]', (el) => ({ ...el.dataset }))
  assert.ok(Number(d.x0) >= from && Number(d.x1) < to, `data inside the window: ${d.x0}..${d.x1} in [${from}, ${to})`)
  await page.getByRole('button', { name: 'Reset zoom' }).click()
  await page.waitForFunction(() => !/from=/.test(location.search))
  assert.deepEqual(problems(), [])
})
