// Browser test for the ketaclinic demo: sign in as a nurse, open a patient
// record, and save screenshots. Uses Node's built-in test runner and
// playwright-core driving the system chromium (no browser is ever downloaded).
// Demo/browser setup lives in harness.mjs (KETACLINIC_BIN, CHROMIUM_PATH).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MRN, TEST_MS, pageWidth, useDemo } from './harness.mjs';

describe('ketaclinic demo in chromium', () => {
  const { url, newPage, shot, signIn } = useDemo();

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
    const width = () => pageWidth(page);
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

  test('every demo chart fits a phone, overview and outcomes', { timeout: 4 * TEST_MS }, async () => {
    const page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await signIn(page, 'physician', 'demo');
    await page.waitForURL((u) => u.pathname === '/home');
    const res = await fetch(url('/api/v1/auth/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'physician', password: 'demo' }) });
    const { token } = await res.json();
    const { items } = await (await fetch(url('/api/v1/patients?limit=200'), { headers: { authorization: `Bearer ${token}` } })).json();
    assert.ok(items.length >= 40, `the demo's patients: ${items.length}`);
    const wide = [];
    for (const p of items) {
      for (const tab of ['', '?tab=outcomes']) {
        await page.goto(url(`/patients/${p.id}${tab}`));
        const w = await pageWidth(page);
        if (w.scrollWidth > w.clientWidth) wide.push(`${p.family_name}${tab}: ${w.scrollWidth}px`);
      }
    }
    assert.deepEqual(wide, [], `charts that scroll sideways on a phone: ${wide.join(', ')}`);
  });
});
