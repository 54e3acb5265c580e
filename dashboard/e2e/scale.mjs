// Scale benchmark (prints JSON): time-to-interactive of the Overview on a session with a
// 1,000,000-step run and ~30,000 update events, hover smoothness, zoom latency, event panel
// latency, and the Transactions table. Uses TTT_SCALE_SESSION[/TTT_SCALE_RUN] when given,
// else writes the big session into TTT_ARTIFACTS_ROOT (the folder the server serves).
//
// "Interactive" = the MSE chart has drawn the server's data (data-ready) and the main thread
// is free: the next frame after that renders within 50 ms. Measured cold (first visit after
// the server parsed nothing) and warm (second visit, fresh browser context: no HTTP cache).
import { apiOk, BASE, launch } from './lib.mjs'
import { writeBigSession } from './fixtures/bigSession.mjs'

async function target() {
  if (process.env.TTT_SCALE_SESSION) {
    const sid = process.env.TTT_SCALE_SESSION
    const d = await apiOk(`/sessions/${sid}`)
    return { session: sid, run: process.env.TTT_SCALE_RUN ?? d.runs.at(-1).run_id, generated: false }
  }
  const root = process.env.TTT_ARTIFACTS_ROOT
  if (!root) throw new Error('set TTT_SCALE_SESSION, or TTT_ARTIFACTS_ROOT to the served artifact folder')
  const t0 = Date.now()
  const info = await writeBigSession(root, Number(process.env.TTT_SCALE_STEPS ?? 1_000_000), Number(process.env.TTT_SCALE_EVENTS ?? 30_000))
  return { ...info, generated: true, generate_ms: Date.now() - t0 }
}

const INIT = () => {
  window.__longTasks = []
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__longTasks.push({ start: e.startTime, dur: e.duration })
    }).observe({ type: 'longtask', buffered: true })
  } catch { /* no longtask support */ }
}

async function visit(browser, tgt) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, deviceScaleFactor: 1 })
  const page = await context.newPage()
  const errors = []
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && errors.push(m.text()))
  page.on('pageerror', (e) => errors.push(e.message))
  await page.addInitScript(INIT)
  const href = `${BASE}/nano/overview?session=${tgt.session}&run=${tgt.run}`
  await page.goto(href, { waitUntil: 'commit' })
  await page.waitForSelector('[data-testid="mse-chart"][data-ready="true"]', { timeout: 60_000 })
  const m = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const ready = performance.now()
        requestAnimationFrame(() => {
          const frame = performance.now()
          setTimeout(() => {
            const nav = performance.getEntriesByType('navigation')[0]
            const el = document.querySelector('[data-testid="mse-chart"]')
            resolve({
              ready_ms: Math.round(ready),
              interactive_ms: Math.round(frame),
              next_frame_ms: Math.round(frame - ready),
              dom_content_loaded_ms: Math.round(nav?.domContentLoadedEventEnd ?? 0),
              long_tasks_before_interactive: window.__longTasks.filter((t) => t.start < frame).length,
              total_blocking_ms: Math.round(window.__longTasks.filter((t) => t.start < frame).reduce((a, t) => a + Math.max(0, t.dur - 50), 0)),
              chart_points: Number(el.dataset.points),
              chart_bucket: Number(el.dataset.bucket),
              chart_total: Number(el.dataset.total),
              markers_drawn: Number(el.dataset.markers),
              dom_nodes: document.getElementsByTagName('*').length,
            })
          }, 0)
        })
      }),
  )
  return { page, context, m, errors }
}

async function hoverSweep(page) {
  const box = await page.locator('[data-testid="mse-chart"] .u-over').boundingBox()
  await page.evaluate(() => {
    window.__frames = []
    let last = performance.now()
    const loop = (now) => {
      window.__frames.push(now - last)
      last = now
      if (window.__sweeping) requestAnimationFrame(loop)
    }
    window.__sweeping = true
    requestAnimationFrame(loop)
  })
  const t0 = Date.now()
  const n = 120
  for (let i = 0; i <= n; i++) await page.mouse.move(box.x + (box.width * i) / n, box.y + box.height * 0.5)
  const wall = Date.now() - t0
  const frames = await page.evaluate(() => {
    window.__sweeping = false
    return window.__frames.slice(1)
  })
  frames.sort((a, b) => a - b)
  const tooltip = await page.$eval('[data-testid="mse-chart"] .u-over > div:not([data-cursor])', (el) => !el.classList.contains('hidden')).catch(() => false)
  return {
    moves: n + 1,
    wall_ms: wall,
    frames: frames.length,
    frame_p50_ms: Math.round(frames[Math.floor(frames.length * 0.5)] ?? 0),
    frame_p95_ms: Math.round(frames[Math.floor(frames.length * 0.95)] ?? 0),
    frame_max_ms: Math.round(frames.at(-1) ?? 0),
    tooltip_visible: tooltip,
  }
}

async function zoom(page) {
  const box = await page.locator('[data-testid="mse-chart"] .u-over').boundingBox()
  const t0 = Date.now()
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5)
  await page.mouse.down()
  await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.5, { steps: 4 })
  await page.mouse.up()
  await page.waitForURL(/from=\d+&to=\d+/)
  const u = new URL(page.url())
  const from = u.searchParams.get('from')
  const to = u.searchParams.get('to')
  await page.waitForSelector(`[data-testid="mse-chart"][data-start="${from}"][data-end="${to}"][data-ready="true"]`, { timeout: 30_000 })
  const ms = Date.now() - t0
  const d = await page.$eval('[data-testid="mse-chart"]', (el) => ({ ...el.dataset }))
  return { zoom_ms: ms, window: [Number(from), Number(to)], points: Number(d.points), bucket: Number(d.bucket) }
}

async function eventPanel(page, tgt) {
  const ev = await apiOk(`/sessions/${tgt.session}/runs/${tgt.run}/events?limit=1&offset=20000&sort=t`)
  const t = ev.items[0].t
  const t0 = Date.now()
  await page.evaluate((tt) => {
    const u = new URL(location.href)
    u.searchParams.set('event', String(tt))
    history.pushState(null, '', u)
    dispatchEvent(new PopStateEvent('popstate'))
  }, t)
  await page.waitForSelector(`[data-testid="event-detail"][data-t="${t}"]`, { timeout: 30_000 })
  return { event_panel_ms: Date.now() - t0, t }
}

async function transactions(browser, tgt) {
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } })
  const page = await context.newPage()
  const t0 = Date.now()
  await page.goto(`${BASE}/nano/transactions?session=${tgt.session}&run=${tgt.run}`, { waitUntil: 'commit' })
  await page.waitForSelector('[data-testid="event-table"] [role="row"][data-t]', { timeout: 60_000 })
  const first_rows_ms = Date.now() - t0
  const rows = await page.$$eval('[data-testid="event-table"] [role="row"][data-t]', (els) => els.length)
  const total = Number(await page.getAttribute('[data-testid="event-table"]', 'data-total'))
  // scroll to the middle: the rows there are fetched as a page and rendered
  const t1 = Date.now()
  await page.$eval('[data-testid="event-table"] [role="rowgroup"]:nth-of-type(2)', (el) => (el.scrollTop = el.scrollHeight / 2))
  await page.waitForFunction(() => {
    const rs = [...document.querySelectorAll('[data-testid="event-table"] [role="row"][aria-rowindex]')]
    return rs.some((r) => Number(r.getAttribute('aria-rowindex')) > 1000 && r.hasAttribute('data-t'))
  }, null, { timeout: 30_000 })
  const scroll_ms = Date.now() - t1
  await context.close()
  return { first_rows_ms, rows_in_dom: rows, total_rows: total, scroll_to_middle_ms: scroll_ms }
}

const tgt = await target()
const browser = await launch()
try {
  const cold = await visit(browser, tgt)
  await cold.context.close()
  const warm = await visit(browser, tgt)
  const hover = await hoverSweep(warm.page)
  const z = await zoom(warm.page)
  const ep = await eventPanel(warm.page, tgt)
  const errors = [...cold.errors, ...warm.errors]
  await warm.context.close()
  const tx = await transactions(browser, tgt)
  const out = {
    target: tgt,
    overview_cold: cold.m,
    overview_warm: warm.m,
    hover,
    zoom: z,
    event_panel: ep,
    transactions: tx,
    console_errors: errors,
    pass: {
      interactive_under_2s_warm: warm.m.interactive_ms < 2000,
      interactive_under_2s_cold: cold.m.interactive_ms < 2000,
      hover_p95_under_50ms: hover.frame_p95_ms < 50,
      no_console_errors: errors.length === 0,
    },
  }
  console.log(JSON.stringify(out, null, 2))
  if (!out.pass.interactive_under_2s_warm || !out.pass.no_console_errors) process.exitCode = 1
} finally {
  await browser.close()
}
