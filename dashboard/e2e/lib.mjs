// Shared helpers for the browser tests: playwright-core driving Debian's Chromium against a
// real `ttt serve` (TTT_BASE_URL) over a real artifact folder made by the CLI.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
export const RESULTS = join(here, '..', 'test-results')
mkdirSync(RESULTS, { recursive: true })

export const BASE = (process.env.TTT_BASE_URL ?? '').replace(/\/$/, '')
if (!BASE) {
  console.error('TTT_BASE_URL is not set: start `ttt serve` over an artifact folder made by the CLI and point TTT_BASE_URL at it (scripts/e2e.sh does both).')
  process.exit(2)
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS })
}

/**
 * A page that records console errors/warnings and page errors. `problems()` returns them;
 * tests assert it is empty.
 */
export async function newPage(browser, { width = 1600, height = 1000 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 })
  const page = await context.newPage()
  const problems = []
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}${process.env.E2E_STACKS ? `\n${e.stack}` : ""}`))
  page.on('requestfailed', (r) => {
    const f = r.failure()?.errorText ?? ''
    // EventSource/fetch aborted by navigation or unmount is not a failure
    if (!/ERR_ABORTED/.test(f)) problems.push(`requestfailed: ${r.url()} ${f}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 500) problems.push(`HTTP ${r.status()}: ${r.url()}`)
  })
  return { page, context, problems: () => problems }
}

export async function api(path, init) {
  const r = await fetch(`${BASE}/api${path}`, init)
  const body = await r.json().catch(() => null)
  return { status: r.status, body }
}

export async function apiOk(path, init) {
  const { status, body } = await api(path, init)
  if (status >= 400) throw new Error(`${path}: HTTP ${status} ${JSON.stringify(body)}`)
  return body
}

/**
 * The CLI-made session with the most update attempts, and its latest completed run
 * (TTT_E2E_SESSION overrides; the synthetic scale-benchmark session is skipped).
 * Returns the session summary with `run` (RunInfo) attached.
 */
export async function pickSession() {
  const { items } = await apiOk('/sessions?limit=1000')
  if (!items.length) throw new Error('the artifact folder has no sessions: run `ttt demo --quick` first')
  const env = process.env.TTT_E2E_SESSION
  const candidates = (env ? items.filter((x) => x.session_id === env) : items.filter((x) => x.last_run_id && x.session_id !== 'scale-1m'))
    .sort((a, b) => b.updates_attempted - a.updates_attempted)
  for (const s of candidates) {
    const d = await apiOk(`/sessions/${s.session_id}`)
    const run = [...d.runs].reverse().find((r) => r.status === 'completed' && r.t_end - r.t_start >= 32)
    if (run) return { ...s, run, detail: d }
  }
  throw new Error(env ? `TTT_E2E_SESSION ${env} has no completed run` : 'no session with a completed run')
}

/** The completed text model the Text and Chat tests use: the default one, else the first. */
export async function modelId() {
  const { items, default_model_id } = await apiOk('/text_models')
  const usable = items.filter((m) => m.status === 'completed')
  assert.ok(usable.length, 'the demo folder has a completed text model')
  return (usable.find((m) => m.model_id === default_model_id) ?? usable[0]).model_id
}

/** Polls a job until it is no longer queued or running; returns it. */
export async function waitJob(id, timeoutMs = 60_000) {
  const t0 = Date.now()
  for (;;) {
    const j = await apiOk(`/jobs/${id}`)
    if (!['queued', 'running'].includes(j.status)) return j
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} did not finish`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

const require = createRequire(import.meta.url)
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

/** axe-core in the page; returns violations with impact serious or critical. */
export async function axeSerious(page) {
  await page.addScriptTag({ content: AXE_SOURCE })
  const res = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))
  })
  return res.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

export async function shot(page, name) {
  // let entry transitions (fade-in/slide-in) finish; infinite ones (spinners) are skipped
  await page.evaluate(() =>
    Promise.all(
      document
        .getAnimations()
        .filter((a) => a.effect?.getComputedTiming().iterations !== Infinity)
        .map((a) => a.finished.catch(() => null)),
    ),
  )
  await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true })
}

/** Waits for an element with data-ready="true" (charts) under a test id. */
export async function chartReady(page, testId, timeout = 15_000) {
  await page.waitForSelector(`[data-testid="${testId}"][data-ready="true"]`, { timeout })
}

export function url(path, params = {}) {
  const q = new URLSearchParams(params).toString()
  return `${BASE}${path}${q ? `?${q}` : ''}`
}
