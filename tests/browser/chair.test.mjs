// Browser test for the chair-side chart and the controlled-substance ledger
// (issue 7). A nurse takes the demo patient booked next for an infusion: opens
// the check-in from the day board, states two identifiers, completes the
// checklist, draws the ordered dose from the ketamine lot (the ledger form is
// prefilled from the order), starts the pump at the ordered rate, enters
// vital signs until one raises an alert, records the response, stops the
// pump, records the administration from the pump record, wastes the rest with
// the physician signing as witness with their own password, and discharges.
// The ledger then shows the administered and wasted amounts with the witness.
// Clicks through visible controls only (the API is used once, to find which
// booking is next); screenshots go to screenshots/chair-checklist.png,
// chair-alert.png, chair-ledger-panel.png, chair-discharged.png and
// ledger-after-discharge.png.
//
// The tests run in order and share the nurse's page and the session.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_MS, useDemo } from './harness.mjs';

const DESKTOP = { viewport: { width: 1280, height: 900 } };

describe('a nurse runs an infusion at the chair and the ledger accounts for it', () => {
  const { url, newPage, shot, signIn } = useDemo();

  let nurse;
  let booking;
  let patient;
  let sessionPath;

  async function clickAndWait(page, locator, matches) {
    await Promise.all([page.waitForURL((u) => matches(u)), locator.click()]);
  }
  const onSession = (u) => u.pathname === sessionPath;
  const phase = (page) => page.locator('[data-testid="phase"]');

  async function api(token, path, init = {}) {
    const res = await fetch(url(path), {
      ...init,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) },
    });
    assert.ok(res.ok, `${path}: HTTP ${res.status}`);
    return res.json();
  }

  test('the nurse checks in the patient booked next, from the day board', { timeout: TEST_MS }, async () => {
    // Which booking is next: the latest booked infusion of the last few days among patients in treatment
    // (the demo puts one in the chair now and the next an hour and a half later).
    const { token } = await api(null, '/api/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: 'nurse', password: 'demo' }) });
    const { items: inTreatment } = await api(token, '/api/v1/patients?status=in_treatment&limit=100');
    const now = Date.now();
    const candidates = [];
    for (const p of inTreatment) {
      const { items } = await api(token, `/api/v1/patients/${p.id}/bookings`);
      for (const b of items) {
        const at = Date.parse(b.starts_at);
        if (b.kind === 'infusion' && b.status === 'booked' && at > now - 4 * 86_400_000 && at < now + 4 * 3_600_000) candidates.push({ b, p });
      }
    }
    assert.ok(candidates.length >= 2, `the demo has an infusion in the chair and one booked next: ${candidates.length}`);
    candidates.sort((x, y) => Date.parse(y.b.starts_at) - Date.parse(x.b.starts_at));
    ({ b: booking, p: patient } = candidates[0]);
    patient = await api(token, `/api/v1/patients/${patient.id}`);

    nurse = await newPage(DESKTOP);
    await signIn(nurse, 'nurse', 'demo');
    await nurse.waitForURL((u) => u.pathname === '/home');
    // The day board of the booking's day (at the site) lists it with its Chart link.
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(booking.starts_at));
    await nurse.goto(url(`/schedule?date=${day}`));
    await clickAndWait(nurse, nurse.locator(`a[href="/bookings/${booking.id}/check-in"]`), (u) => u.pathname === `/bookings/${booking.id}/check-in`);

    // A wrong date of birth is refused; the right identifiers open the chart.
    await nurse.locator('#full_name').fill(`${patient.given_name} ${patient.family_name}`);
    await nurse.locator('#date_of_birth').fill('1901-01-01');
    await nurse.getByRole('button', { name: 'Check in' }).click();
    await nurse.getByText('date of birth: does not match the chart').waitFor();
    await nurse.locator('#full_name').fill(`${patient.given_name} ${patient.family_name}`);
    await nurse.locator('#date_of_birth').fill(patient.date_of_birth);
    await clickAndWait(nurse, nurse.getByRole('button', { name: 'Check in' }), (u) => /^\/sessions\/[0-9a-f-]{36}$/.test(u.pathname));
    sessionPath = new URL(nurse.url()).pathname;
    assert.equal((await phase(nurse).innerText()).trim(), 'pre-check');
    assert.match(await nurse.locator('h1').innerText(), new RegExp(`${patient.given_name} ${patient.family_name}`));
  });

  test('the checklist, then the dose drawn from the ledger and the pump at the ordered rate', { timeout: TEST_MS }, async () => {
    const checklist = nurse.locator('#checklist');
    // The pump cannot start before the checklist: it names what is missing.
    await checklist.getByRole('checkbox', { name: /Fasting/ }).check();
    await checklist.getByRole('checkbox', { name: /The escort is here/ }).check();
    await nurse.locator('#breath_alcohol').fill('0.000');
    await nurse.locator('#hours_since_last_drink').fill('48');
    if (patient.sex_at_birth === 'female') await nurse.locator('#pregnancy_test').selectOption('negative');
    for (const [name, value] of [['systolic_mmhg', '124'], ['diastolic_mmhg', '78'], ['heart_rate_bpm', '72'], ['respiratory_rate_per_min', '14'], ['spo2_percent', '98'], ['rass', '0']]) {
      await checklist.locator(`input[name="b_${name}"]`).fill(value);
    }
    await clickAndWait(nurse, checklist.getByRole('button', { name: 'Save the checklist' }), onSession);
    await nurse.getByText('Checklist complete.').waitFor();
    await shot(nurse, 'chair-checklist.png');

    // The ledger form is prefilled with the lot, the vial and the order's stock volume.
    const withdraw = nurse.locator('#withdraw');
    const drawn = await withdraw.locator('#wd-ml').inputValue();
    assert.match(drawn, /^\d+(\.\d+)?$/, `the order's stock volume: ${drawn}`);
    assert.match(await withdraw.locator('#wd-lot option').first().innerText(), /ketamine 10 mg\/mL lot/);
    await clickAndWait(nurse, withdraw.getByRole('button', { name: 'Record the withdrawal' }), onSession);
    await nurse.locator('[data-testid="custody"]').getByText(`Held: ${drawn} mL`).waitFor();

    // The pump at the ordered rate (shown on the chart).
    const ordered = await nurse.locator('[data-testid="ordered-rate"] strong').innerText();
    const rate = ordered.match(/^([\d.]+) mL\/h/)[1];
    await nurse.locator('#rate-start').fill(rate);
    await clickAndWait(nurse, nurse.locator('#pump').getByRole('button', { name: 'Start' }), onSession);
    assert.equal((await phase(nurse).innerText()).trim(), 'infusing');
    await nurse.getByText(`Running at ${rate} mL/h`).waitFor();
  });

  test('vital signs until one raises an alert, and the response taken', { timeout: TEST_MS }, async () => {
    const vitals = async (sys, dia) => {
      const form = nurse.locator('#vitals form');
      for (const [name, value] of [['systolic_mmhg', sys], ['diastolic_mmhg', dia], ['heart_rate_bpm', '80'], ['respiratory_rate_per_min', '14'], ['spo2_percent', '98'], ['rass', '-1']]) {
        await form.locator(`input[name="${name}"]`).fill(value);
      }
      await clickAndWait(nurse, form.getByRole('button', { name: 'Save vital signs' }), onSession);
    };
    await vitals('132', '82');
    assert.equal(await nurse.locator('[data-testid="open-alert"]').count(), 0);
    await vitals('186', '104');
    const alert = nurse.locator('[data-testid="open-alert"]');
    await alert.first().waitFor();
    assert.match(await alert.first().innerText(), /BP 186\/104 mmHg is above 180\/100/);
    await shot(nurse, 'chair-alert.png');
    await alert.first().getByLabel('Response taken').fill('Rate kept; BP rechecked after 5 min 162/92; physician informed');
    await clickAndWait(nurse, alert.first().getByRole('button', { name: 'Record the response' }), onSession);
    assert.equal(await nurse.locator('[data-testid="open-alert"]').count(), 0);
  });

  test('the pump stops; the administration from the pump record and the witnessed waste', { timeout: TEST_MS }, async () => {
    // Let the pump run a few seconds (its record counts whole seconds) so that it delivers something.
    await nurse.waitForTimeout(3_000);
    await clickAndWait(nurse, nurse.locator('#pump').getByRole('button', { name: 'Stop' }), onSession);
    assert.equal((await phase(nurse).innerText()).trim(), 'recovery');
    // Discharge is refused while the drug drawn is not accounted for.
    const discharge = nurse.locator('#discharge form');
    for (const item of ['activity', 'respiration', 'circulation', 'consciousness', 'spo2']) {
      await discharge.locator(`select[name="aldrete_${item}"]`).selectOption('2');
    }
    for (const box of ['Dissociation resolved', 'Steady gait', /Escort present/, 'Written instructions given']) {
      await discharge.getByRole('checkbox', { name: box }).check();
    }
    await discharge.getByRole('button', { name: 'Discharge' }).click();
    await nurse.locator('#problem').getByText(/controlled-substance record of this session is not complete/).waitFor();

    const panel = nurse.locator('#ledger');
    await clickAndWait(nurse, panel.getByRole('button', { name: 'Record the administration from the pump record' }), onSession);
    const administered = panel.locator('[data-testid="session-ledger"] tr[data-type="administered"]');
    await administered.waitFor();
    const waste = panel.locator('#waste');
    const rest = await waste.locator('input[name="volume_ml"]').inputValue();
    assert.ok(Number(rest) > 0, `the rest to waste: ${rest}`);
    // The nurse cannot witness their own waste; the physician signs with their own password.
    await waste.getByLabel('Witness username').fill('nurse');
    await waste.getByLabel('Witness password').fill('demo');
    await waste.getByRole('button', { name: 'Record the witnessed waste' }).click();
    await nurse.locator('#problem').getByText(/must be a second person/).waitFor();
    const again = nurse.locator('#waste');
    await again.getByLabel('Witness username').fill('physician');
    await again.getByLabel('Witness password').fill('demo');
    await clickAndWait(nurse, again.getByRole('button', { name: 'Record the witnessed waste' }), onSession);
    await panel.getByText('Nothing drawn for this session is held.').waitFor();
    const wasted = panel.locator('[data-testid="session-ledger"] tr[data-type="wasted"]');
    assert.match(await wasted.innerText(), /Dr\. Priya Physician/);
    await shot(nurse, 'chair-ledger-panel.png');
  });

  test('the discharge, and the ledger shows the administered and wasted amounts with the witness', { timeout: TEST_MS }, async () => {
    const discharge = nurse.locator('#discharge form');
    for (const item of ['activity', 'respiration', 'circulation', 'consciousness', 'spo2']) {
      await discharge.locator(`select[name="aldrete_${item}"]`).selectOption('2');
    }
    for (const box of ['Dissociation resolved', 'Steady gait', /Escort present/, 'Written instructions given']) {
      await discharge.getByRole('checkbox', { name: box }).check();
    }
    await clickAndWait(nurse, discharge.getByRole('button', { name: 'Discharge' }), onSession);
    assert.equal((await phase(nurse).innerText()).trim(), 'discharged');
    await nurse.getByText(/Discharged · Aldrete 10\/10/).waitFor();
    await shot(nurse, 'chair-discharged.png');

    await clickAndWait(nurse, nurse.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Ledger', exact: true }), (u) => u.pathname === '/ledger');
    const sessionId = sessionPath.split('/').pop();
    const rows = nurse.locator(`#entries tbody tr:has(a[href="/sessions/${sessionId}"])`);
    const texts = await rows.evaluateAll((trs) => trs.map((tr) => ({ type: tr.dataset.type, entry: tr.querySelector('td[data-label="Entry"]').textContent, witness: tr.querySelector('[data-testid="witness"]').textContent })));
    const types = texts.map((t) => t.type).sort();
    assert.deepEqual(types, ['administered', 'wasted', 'withdrawn']);
    const wasted = texts.find((t) => t.type === 'wasted');
    assert.equal(wasted.witness, 'Dr. Priya Physician');
    assert.match(texts.find((t) => t.type === 'administered').entry, /ketamine 10 mg\/mL lot .* mL \(/);
    await shot(nurse, 'ledger-after-discharge.png');
    const unexpected = nurse.problems.filter((p) => !p.startsWith('HTTP 422') && !p.startsWith('HTTP 409'));
    assert.deepEqual(unexpected, []);
  });
});
