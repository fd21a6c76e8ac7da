// Browser test for the inquiry flow of the ketaclinic demo: a visitor asks to be
// contacted on the public page, the front desk finds the inquiry, logs a call and
// registers the person as a patient. Clicks through visible controls only and
// saves screenshots as screenshots/inq-*.png. Setup lives in harness.mjs
// (KETACLINIC_BIN, CHROMIUM_PATH).
//
// The tests run in order and share the inquiry created by the first one.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MRN, TEST_MS, pageWidth, useDemo } from './harness.mjs';

// Each run starts from a fresh data directory, so this name is unique in the demo data.
const NAME = 'Robin Browsertest';
const PHONE = '555-010-0188';
const BEST_TIME = 'Weekday mornings';
const MESSAGE = 'Please text first, I work nights.';
const CALL_NOTE = 'Spoke with Robin, will book screening.';
const NO_CONSENT_NAME = 'Sam Noconsent';

const DESKTOP = { viewport: { width: 1280, height: 800 } };

describe('inquiry flow in chromium', () => {
  const { url, newPage, shot, signIn } = useDemo();

  // Shared between the staff tests: one signed-in page and the inquiry's address.
  let staff;
  let inquiryPath;

  /** The <dd> text next to the <dt> with this label inside `scope`. */
  async function fact(scope, label) {
    const dt = scope.locator('dl dt', { hasText: label }).first();
    await dt.waitFor({ state: 'visible' });
    return dt.evaluate((el) => {
      let n = el.nextElementSibling;
      while (n && n.tagName !== 'DD') n = n.nextElementSibling;
      return n ? n.textContent.trim() : '';
    });
  }

  /** Click a submit button and wait for the page it leads to. */
  async function submit(page, buttonName, pathMatches) {
    await Promise.all([
      page.waitForURL((u) => pathMatches(u.pathname)),
      page.getByRole('button', { name: buttonName, exact: true }).click(),
    ]);
  }

  test('visitor sends an inquiry from the public page', { timeout: TEST_MS }, async (t) => {
    const page = await newPage(DESKTOP);
    await page.goto(url('/'));
    await page.locator('#name').waitFor({ state: 'visible' });

    await page.locator('#name').fill(NAME);
    await page.locator('#phone').fill(PHONE);
    await page.locator('input[name="substances"][value="alcohol"]').check();
    await page.locator('#preferred_contact_time').fill(BEST_TIME);
    await page.locator('#contact_channel').selectOption('sms');
    await page.locator('#message').fill(MESSAGE);
    await page.locator('input[name="consent_to_contact"]').check();
    await shot(page, 'inq-01-public-filled.png');

    await submit(page, 'Send', (p) => p === '/inquire/thanks');
    await page.getByRole('heading', { name: 'Thank you. We got your message.' }).waitFor({ state: 'visible' });
    const crisis = page.locator('main').getByText(/988/);
    await crisis.first().waitFor({ state: 'visible' });
    assert.match(await crisis.first().textContent(), /988/);
    await shot(page, 'inq-02-thank-you.png');
    for (const p of page.problems) t.diagnostic(p);
  });

  test('without consent the form shows an error and keeps what was typed', { timeout: TEST_MS }, async (t) => {
    const page = await newPage(DESKTOP);
    await page.goto(url('/'));
    await page.locator('#name').waitFor({ state: 'visible' });
    await page.locator('#name').fill(NO_CONSENT_NAME);
    await page.locator('#phone').fill('555-010-0199');
    await page.locator('input[name="substances"][value="opioids"]').check();
    await page.locator('#message').fill('No consent given.');
    assert.equal(await page.locator('input[name="consent_to_contact"]').isChecked(), false);

    await submit(page, 'Send', (p) => p === '/inquire');
    const error = page.locator('.field-error', { hasText: 'Consent must be true' });
    await error.waitFor({ state: 'visible' });
    // The error sits right after the consent checkbox's label.
    const nextToConsent = await error.evaluate((el) => {
      const prev = el.previousElementSibling;
      return Boolean(prev && prev.querySelector('input[name="consent_to_contact"]'));
    });
    assert.ok(nextToConsent, 'consent error follows the consent checkbox');
    assert.equal(await page.locator('#name').inputValue(), NO_CONSENT_NAME, '#name keeps the typed name');
    assert.equal(await page.locator('#message').inputValue(), 'No consent given.', '#message keeps the text');
    assert.equal(
      await page.locator('input[name="substances"][value="opioids"]').isChecked(),
      true,
      'ticked substance stays ticked',
    );
    assert.equal(await page.getByText('Thank you. We got your message.').count(), 0);
    await shot(page, 'inq-03-no-consent-error.png');
    for (const p of page.problems) t.diagnostic(p);
  });

  test('front desk finds the new inquiry', { timeout: TEST_MS }, async (t) => {
    staff = await newPage(DESKTOP);
    await signIn(staff, 'frontdesk', 'demo');
    await staff.waitForURL((u) => u.pathname === '/home');
    const newCard = staff.getByRole('link', { name: 'New inquiries to call back' });
    await newCard.waitFor({ state: 'visible' });
    const count = await newCard.evaluate((a) => a.parentElement.querySelector('.count')?.textContent.trim());
    t.diagnostic(`new inquiries on /home: ${count}`);
    await shot(staff, 'inq-04-frontdesk-home.png');

    const nav = staff.getByRole('navigation', { name: 'Main' });
    await Promise.all([
      staff.waitForURL((u) => u.pathname === '/inquiries'),
      nav.getByRole('link', { name: 'Inquiries', exact: true }).click(),
    ]);
    const row = staff.locator('table tbody tr', { hasText: NAME });
    await row.first().waitFor({ state: 'visible' });
    assert.equal(await row.count(), 1, `exactly one inquiry row for ${NAME}`);
    // The inquiry sent without consent must not have been stored.
    assert.equal(await staff.locator('table tbody tr', { hasText: NO_CONSENT_NAME }).count(), 0);
    await shot(staff, 'inq-05-inquiries.png');

    const link = row.getByRole('link', { name: NAME, exact: true });
    inquiryPath = await link.getAttribute('href');
    assert.match(inquiryPath, /^\/inquiries\/[0-9a-f-]{36}$/, 'inquiry link is /inquiries/<uuid>');
    await Promise.all([staff.waitForURL((u) => u.pathname === inquiryPath), link.click()]);

    const h1 = staff.locator('main h1').first();
    await h1.waitFor({ state: 'visible' });
    assert.ok((await h1.textContent()).includes(NAME), `heading mentions ${NAME}`);
    assert.equal((await h1.locator('.badge').textContent()).trim(), 'new');
    // What the visitor typed arrived.
    const main = staff.locator('main');
    assert.equal((await fact(main, 'Phone')).replace(/\D/g, ''), PHONE.replace(/\D/g, ''));
    assert.match(await fact(main, 'Contact by'), /sms/);
    assert.equal(await fact(main, 'Best time'), BEST_TIME);
    assert.match(await fact(main, 'Substances'), /alcohol/);
    assert.equal(await fact(main, 'Message'), MESSAGE);
    await shot(staff, 'inq-06-inquiry.png');
    for (const p of staff.problems) t.diagnostic(p);
  });

  test('front desk logs a call', { timeout: TEST_MS }, async (t) => {
    assert.ok(staff && inquiryPath, 'the previous test opened the inquiry');
    await staff.locator('#outcome').selectOption('reached');
    await staff.locator('#note').fill(CALL_NOTE);
    await submit(staff, 'Log call', (p) => p === inquiryPath);

    const callLog = staff.locator('.card', { has: staff.getByRole('heading', { name: 'Call log' }) });
    await callLog.getByText(CALL_NOTE).waitFor({ state: 'visible' });
    assert.match(await callLog.textContent(), /reached/);
    const badge = staff.locator('main h1 .badge').first();
    await badge.waitFor({ state: 'visible' });
    assert.equal((await badge.textContent()).trim(), 'contacted');
    await shot(staff, 'inq-07-call-logged.png');
    for (const p of staff.problems) t.diagnostic(p);
  });

  test('front desk registers the inquirer as a patient', { timeout: TEST_MS }, async (t) => {
    assert.ok(staff && inquiryPath, 'the previous tests opened the inquiry');
    await staff.locator('#date_of_birth').fill('1985-04-12');
    await submit(staff, 'Register patient', (p) => /^\/patients\/[0-9a-f-]{36}$/.test(p));

    const h1 = staff.locator('main h1').first();
    await h1.waitFor({ state: 'visible' });
    assert.ok((await h1.textContent()).includes(NAME), `patient heading ${JSON.stringify(await h1.textContent())} mentions ${NAME}`);
    const mrn = await fact(staff.locator('main'), 'MRN');
    assert.match(mrn, MRN, 'MRN value next to the "MRN" term');
    t.diagnostic(`registered ${NAME} as ${mrn} at ${new URL(staff.url()).pathname}`);
    await shot(staff, 'inq-08-patient.png');
    for (const p of staff.problems) t.diagnostic(p);
  });

  test('public page on a phone-sized viewport (390x844)', { timeout: TEST_MS }, async (t) => {
    const page = await newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await page.goto(url('/'));
    await page.getByRole('button', { name: 'Send', exact: true }).waitFor({ state: 'visible' });
    await shot(page, 'inq-09-public-phone.png');
    const w = await pageWidth(page);
    t.diagnostic(`phone page width: scrollWidth ${w.scrollWidth}, clientWidth ${w.clientWidth}`);
    assert.ok(w.scrollWidth <= w.clientWidth, `public page scrolls sideways on a phone: ${w.scrollWidth} > ${w.clientWidth}`);
    for (const p of page.problems) t.diagnostic(p);
  });
});
