// Shared harness for the ketaclinic browser tests: starts the demo binary on a
// free port with a fresh data directory, launches the system chromium through
// playwright-core, and tears both down again. Every wait is bounded.
//
// Environment:
//   KETACLINIC_BIN  path to the ketaclinic binary
//                   (default: ../../target/debug/ketaclinic relative to this file)
//   CHROMIUM_PATH   chromium executable (default: /usr/bin/chromium)

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.KETACLINIC_BIN
  ? path.resolve(process.env.KETACLINIC_BIN)
  : path.resolve(HERE, '../../target/debug/ketaclinic');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SHOTS = path.join(HERE, 'screenshots');

// Every wait is bounded by this.
export const WAIT_MS = 15_000;
// Upper bound for a whole test (several bounded waits in a row).
export const TEST_MS = 90_000;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const MRN = /K\d{8}/;

/** Start the demo on a free port; resolve with { proc, baseUrl, logs }. */
export function startDemo(dataDir) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, ['demo', '--port', '0', '--data', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs = { stdout: '', stderr: '' };
    let settled = false;
    const finish = (err, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        proc.kill('SIGKILL');
        err.message += `\n--- demo stdout ---\n${logs.stdout}\n--- demo stderr ---\n${logs.stderr}`;
        reject(err);
      } else {
        resolve(value);
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`demo did not report its URL within ${WAIT_MS} ms`)),
      WAIT_MS,
    );
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    // Keep draining both pipes for the whole run so the server never blocks on a full pipe.
    proc.stdout.on('data', (chunk) => {
      logs.stdout += chunk;
      const m = logs.stdout.match(/ketaclinic demo is running at (http:\/\/\S+)/);
      if (m) finish(null, { proc, baseUrl: new URL(m[1]), logs });
    });
    proc.stderr.on('data', (chunk) => {
      logs.stderr += chunk;
    });
    proc.on('error', (e) => finish(new Error(`could not start ${BIN}: ${e.message}`)));
    proc.on('exit', (code, signal) =>
      finish(new Error(`demo exited early (code ${code}, signal ${signal})`)),
    );
  });
}

/** Stop the demo: SIGTERM, then SIGKILL if it has not exited within a few seconds. */
export async function stopDemo(proc) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise((r) => setTimeout(() => r(true), 5_000)),
  ]);
  if (timedOut) {
    proc.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
  }
}

/** Reject after `ms` so nothing in an after() hook can hang. */
export function bounded(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/** Horizontal size of the page, to catch sideways scrolling. */
export function pageWidth(page) {
  return page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
}

/**
 * Register before()/after() hooks in the calling describe() block that start a
 * fresh demo and chromium, and return helpers bound to them:
 *   url(path), newPage(contextOptions), shot(page, file), signIn(page, user, password)
 */
export function useDemo() {
  let demo;
  let dataDir;
  let browser;
  const contexts = [];

  // Safety net: if the runner is torn down abruptly, do not leave the server behind.
  const killOnExit = () => demo?.proc?.kill('SIGKILL');
  process.on('exit', killOnExit);

  const url = (p) => new URL(p, demo.baseUrl).href;

  /** A fresh browser context + page with bounded default timeouts. */
  async function newPage(options = {}) {
    const context = await browser.newContext(options);
    contexts.push(context);
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    const page = await context.newPage();
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      // Failed loads are reported with their URL by the response listener below.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
        page.problems.push(`console error: ${m.text()}`);
      }
    });
    page.on('response', (r) => {
      if (r.status() >= 400) page.problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
    return page;
  }

  async function shot(page, name) {
    await page.screenshot({ path: path.join(SHOTS, name), fullPage: true, timeout: WAIT_MS });
  }

  /** Sign in through the visible form (does not wait for the landing page). */
  async function signIn(page, username, password) {
    await page.goto(url('/login'));
    await page.locator('#username').waitFor({ state: 'visible' });
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  before(async () => {
    assert.ok(existsSync(BIN), `ketaclinic binary not found at ${BIN} (set KETACLINIC_BIN)`);
    assert.ok(existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (set CHROMIUM_PATH)`);
    mkdirSync(SHOTS, { recursive: true });
    dataDir = mkdtempSync(path.join(tmpdir(), 'ketaclinic-browser-'));
    demo = await startDemo(dataDir);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: WAIT_MS,
    });
  }, { timeout: 2 * WAIT_MS + 5_000 });

  after(async () => {
    // Each step is bounded and independent, so a failure in one still runs the rest.
    for (const context of contexts) {
      await bounded(context.close(), WAIT_MS, 'closing a browser context').catch(() => {});
    }
    if (browser) {
      await bounded(browser.close(), WAIT_MS, 'closing chromium').catch(() => {});
    }
    await stopDemo(demo?.proc);
    process.off('exit', killOnExit);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, { timeout: 2 * WAIT_MS + 15_000 });

  return { url, newPage, shot, signIn };
}
