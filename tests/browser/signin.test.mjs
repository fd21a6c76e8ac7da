// Browser test for the ketaclinic demo: sign in as a nurse, open a patient
// record, and save screenshots. Uses Node's built-in test runner and
// playwright-core driving the system chromium (no browser is ever downloaded).
//
// Environment:
//   KETACLINIC_BIN  path to the ketaclinic binary
//                   (default: ../../target/debug/ketaclinic relative to this file)
//   CHROMIUM_PATH   chromium executable (default: /usr/bin/chromium)

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = process.env.KETACLINIC_BIN
  ? path.resolve(process.env.KETACLINIC_BIN)
  : path.resolve(HERE, '../../target/debug/ketaclinic');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = path.join(HERE, 'screenshots');

// Every wait in this file is bounded by this.
const WAIT_MS = 15_000;
// Upper bound for a whole test (several bounded waits in a row).
const TEST_MS = 90_000;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const MRN = /K\d{8}/;

/** Start the demo on a free port; resolve with { proc, baseUrl, logs }. */
function startDemo(dataDir) {
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
async function stopDemo(proc) {
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
function bounded(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

describe('ketaclinic demo in chromium', () => {
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

  /** Sign in through the visible form. */
  async function signIn(page, username, password) {
    await page.goto(url('/login'));
    await page.locator('#username').waitFor({ state: 'visible' });
    await page.locator('#username').fill(username);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  /** Open /patients and click the first patient link; returns after the record loads. */
  async function openFirstPatient(page) {
    await page.goto(url('/patients'));
    const first = page.locator('table tbody a[href^="/patients/0"]').first();
    await first.waitFor({ state: 'visible' });
    const name = (await first.textContent()).trim();
    const href = await first.getAttribute('href');
    assert.match(href, /^\/patients\/[0-9a-f-]{36}$/, 'patient link is /patients/<uuid>');
    await Promise.all([page.waitForURL((u) => u.pathname === href), first.click()]);
    return { name, href };
  }

  async function checkPatientPage(page, name) {
    const h1 = page.locator('main h1').first();
    await h1.waitFor({ state: 'visible' });
    // The list shows "Family, Given"; the record's heading must mention the family name at least.
    const family = name.split(',')[0].trim();
    assert.ok(
      (await h1.textContent()).includes(family),
      `patient heading ${JSON.stringify(await h1.textContent())} mentions ${family}`,
    );
    const mrnTerm = page.locator('dl dt', { hasText: 'MRN' }).first();
    await mrnTerm.waitFor({ state: 'visible' });
    const mrnValue = await mrnTerm.evaluate((dt) => {
      let n = dt.nextElementSibling;
      while (n && n.tagName !== 'DD') n = n.nextElementSibling;
      return n ? n.textContent.trim() : '';
    });
    assert.match(mrnValue, MRN, 'MRN value next to the "MRN" term');
    return mrnValue;
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

  test('nurse signs in and opens a patient record', { timeout: TEST_MS }, async (t) => {
    const page = await newPage({ viewport: { width: 1280, height: 800 } });

    await page.goto(url('/login'));
    await page.locator('#username').waitFor({ state: 'visible' });
    await shot(page, '01-login.png');

    await page.locator('#username').fill('nurse');
    await page.locator('#password').fill('demo');
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/home'),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    await page.getByRole('button', { name: 'Sign out' }).waitFor({ state: 'visible' });
    await shot(page, '02-home.png');

    await page.goto(url('/patients'));
    await page.locator('table tbody a[href^="/patients/0"]').first().waitFor({ state: 'visible' });
    await shot(page, '03-patients.png');

    const { name } = await openFirstPatient(page);
    const mrn = await checkPatientPage(page, name);
    await shot(page, '04-patient.png');
    t.diagnostic(`first patient: ${name} (${mrn})`);

    for (const p of page.problems) t.diagnostic(p);
  });

  test('wrong password shows an error and stays on /login', { timeout: TEST_MS }, async (t) => {
    const page = await newPage({ viewport: { width: 1280, height: 800 } });
    await signIn(page, 'nurse', 'not-the-password');
    const error = page.getByText('Wrong username or password.');
    await error.waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).pathname, '/login');
    // Still the sign-in form, not a signed-in page.
    await page.locator('#password').waitFor({ state: 'visible' });
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    await shot(page, '05-wrong-password.png');
    for (const p of page.problems) t.diagnostic(p);
  });

  test('patient record on a phone-sized viewport (390x844)', { timeout: TEST_MS }, async (t) => {
    const page = await newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await signIn(page, 'nurse', 'demo');
    await page.waitForURL((u) => u.pathname === '/home');
    const width = () => page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    // No page may scroll sideways on a phone: that hides columns and buttons.
    for (const [path, file] of [['/home', '06-home-phone.png'], ['/patients', '07-patients-phone.png']]) {
      await page.goto(url(path));
      await shot(page, file);
      const w = await width();
      assert.ok(w.scrollWidth <= w.clientWidth, `${path} scrolls sideways on a phone: ${w.scrollWidth} > ${w.clientWidth}`);
    }
    const { name } = await openFirstPatient(page);
    await checkPatientPage(page, name);
    await shot(page, '08-patient-phone.png');
    const overflow = await width();
    assert.ok(overflow.scrollWidth <= overflow.clientWidth, `patient page scrolls sideways: ${overflow.scrollWidth}`);
    t.diagnostic(`phone page width: scrollWidth ${overflow.scrollWidth}, clientWidth ${overflow.clientWidth}`);
    for (const p of page.problems) t.diagnostic(p);
  });
});
