// Browser test for the patient record in the ketaclinic demo: front desk
// registers a patient, reads the chart's alerts and tabs, edits the record
// (contact consent, allergy, escort, status) and meets a conflicting edit made
// by someone else in the meantime, which is shown without losing what was typed.
// Clicks through visible controls only; screenshots go to screenshots/pat-*.png.
//
// The tests run in order and share the registered patient.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MRN, TEST_MS, useDemo } from './harness.mjs';

const GIVEN = 'Tamsin';
const FAMILY = 'Browserpatient';
const DESKTOP = { viewport: { width: 1280, height: 900 } };

describe('patient record in chromium', () => {
  const { url, newPage, shot, signIn } = useDemo();

  let staff;
  let chartPath;

  /** The <dd> text next to the <dt> with this label. */
  async function fact(page, label) {
    const dt = page.locator('dl dt', { hasText: label }).first();
    await dt.waitFor({ state: 'visible' });
    return dt.evaluate((el) => {
      let n = el.nextElementSibling;
      while (n && n.tagName !== 'DD') n = n.nextElementSibling;
      return n ? n.textContent.trim() : '';
    });
  }

  async function clickAndWait(page, locator, pathMatches) {
    await Promise.all([page.waitForURL((u) => pathMatches(u.pathname)), locator.click()]);
  }

  test('front desk registers a patient and sees the chart header alerts', { timeout: TEST_MS }, async () => {
    staff = await newPage(DESKTOP);
    await signIn(staff, 'frontdesk', 'demo');
    await staff.waitForURL((u) => u.pathname === '/home');
    await clickAndWait(staff, staff.getByRole('link', { name: 'Patients', exact: true }).first(), (p) => p === '/patients');
    await clickAndWait(staff, staff.getByRole('link', { name: 'Register a patient' }), (p) => p === '/patients/new');

    await staff.locator('#given_name').fill(GIVEN);
    await staff.locator('#family_name').fill(FAMILY);
    await staff.locator('#date_of_birth').fill('1988-04-12');
    await staff.locator('#phone').fill('555-010-0177');
    await staff.locator('input[name="substances"][value="alcohol"]').check();
    await clickAndWait(staff, staff.getByRole('button', { name: 'Register', exact: true }), (p) => /^\/patients\/[0-9a-f-]{36}$/.test(p));
    chartPath = new URL(staff.url()).pathname;

    await staff.getByRole('heading', { level: 1, name: new RegExp(`${GIVEN} ${FAMILY}`) }).waitFor();
    const header = await staff.locator('.chart-header').innerText();
    assert.match(header, MRN);
    assert.match(header, /Age 3\d/);
    assert.match(header, /Allergies: none recorded/);
    const alerts = staff.locator('ul.chart-alerts li');
    assert.deepEqual(await alerts.evaluateAll((els) => els.map((e) => e.dataset.alert)), ['consents_missing', 'no_contact_consent']);
    assert.equal(await fact(staff, 'May contact by'), 'no consent recorded');
    // Every tab is a visible link; the summary is the current one.
    const tabs = staff.getByRole('navigation', { name: 'Chart sections' }).getByRole('link');
    assert.deepEqual(
      await tabs.allInnerTexts(),
      ['Summary', 'Screening', 'Consents', 'Plan', 'Infusions', 'Counseling', 'Outcomes'],
    );
    assert.equal(await staff.locator('nav.tabs a[aria-current="page"]').innerText(), 'Summary');
    await shot(staff, 'pat-01-new-chart.png');
    assert.deepEqual(staff.problems, []);
  });

  test('editing records contact consent, an allergy and the escort', { timeout: TEST_MS }, async () => {
    await clickAndWait(staff, staff.getByRole('link', { name: 'Edit record' }), (p) => p === `${chartPath}/edit`);
    await staff.locator('input[name="contact_channels"][value="phone"]').check();
    await staff.locator('input[name="contact_channels"][value="sms"]').check();
    await staff.locator('#preferred_contact_channel').selectOption('sms');
    await staff.getByLabel('Allergy 1 substance').fill('penicillin');
    await staff.getByLabel('Allergy 1 reaction').fill('hives');
    await staff.locator('#escort_name').fill('Jordan Browserpatient');
    await staff.locator('#escort_phone').fill('555-010-0178');
    await staff.locator('#status').selectOption('eligible');
    await shot(staff, 'pat-02-edit-form.png');
    await clickAndWait(staff, staff.getByRole('button', { name: 'Save changes' }), (p) => p === chartPath);

    const header = await staff.locator('.chart-header').innerText();
    assert.match(header, /Allergies: penicillin \(hives\)/);
    // Only the consents remain to be signed (in the Consents tab).
    assert.deepEqual(
      await staff.locator('ul.chart-alerts li').evaluateAll((els) => els.map((e) => e.dataset.alert)),
      ['consents_missing'],
    );
    assert.equal(await fact(staff, 'May contact by'), 'phone call, text message (SMS)');
    assert.equal(await fact(staff, 'Preferred'), 'text message (SMS)');
    assert.match(await fact(staff, 'Escort home'), /Jordan Browserpatient/);
    assert.match(await staff.locator('h1').innerText(), /eligible/);

    // The front desk opens the Outcomes tab but reads no clinical outcome data.
    await clickAndWait(staff, staff.getByRole('link', { name: 'Outcomes', exact: true }), (p) => p === chartPath);
    assert.equal(await staff.locator('nav.tabs a[aria-current="page"]').innerText(), 'Outcomes');
    await staff.getByText('Outcome data is read by the clinicians who treat the patient.').waitFor();
    assert.deepEqual(staff.problems, []);
  });

  test('a conflicting edit is shown and the typed input is kept', { timeout: TEST_MS }, async () => {
    // Two forms open on the same version; the first one saved wins the race.
    const other = await newPage(DESKTOP);
    await signIn(other, 'nurse', 'demo');
    await other.waitForURL((u) => u.pathname === '/home');
    await other.goto(url(`${chartPath}/edit`));
    await staff.goto(url(`${chartPath}/edit`));

    await other.locator('#address').fill('12 Harbour Road');
    await clickAndWait(other, other.getByRole('button', { name: 'Save changes' }), (p) => p === chartPath);

    await staff.locator('#phone').fill('555-010-0199');
    await staff.getByRole('button', { name: 'Save changes' }).click();
    const notice = staff.getByRole('alert').filter({ hasText: 'Someone else changed this record' });
    await notice.waitFor();
    assert.equal(await staff.locator('#phone').inputValue(), '555-010-0199', 'what was typed is still in the form');
    // The notice lists each field that differs: the other edit's address and this one's phone.
    const rows = await notice.locator('table.conflict tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
    assert.deepEqual(rows, [
      ['Phone', '(555) 010-0177', '(555) 010-0199'],
      ['Address', '12 Harbour Road', '—'],
    ]);
    await shot(staff, 'pat-03-conflict.png');

    // The worker copies the address over and saves again, on purpose, over the newer version.
    await staff.locator('#address').fill('12 Harbour Road');
    await clickAndWait(staff, staff.getByRole('button', { name: 'Save changes' }), (p) => p === chartPath);
    assert.match(await fact(staff, 'Phone'), /\(555\) 010-0199/);
    assert.equal(await fact(staff, 'Address'), '12 Harbour Road');
    assert.deepEqual(staff.problems.filter((p) => !p.startsWith('HTTP 422')), []);
    await other.close();
  });
});
