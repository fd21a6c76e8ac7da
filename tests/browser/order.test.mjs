// Browser test for infusion orders and their independent double check in the
// ketaclinic demo (issue 6): the physician makes and signs a KARE plan for an
// eligible patient who drinks, orders the first infusion as planned and sees
// the arithmetic and the predicted curve; a second clinician (the nurse) opens
// the order from the chart, finds the check form empty, enters a mismatching
// weight (the order stays blocked), then the matching values (verified). A
// physician who changes the dose from the plan's is warned and must tick the
// acknowledgement. On a phone the order page does not scroll sideways.
// Clicks through visible controls only; screenshots go to
// screenshots/order-signed.png, order-mismatch.png, order-verified.png,
// order-dose-warning.png and order-phone.png.
//
// The tests run in order and share the patient, the plan and its orders.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_MS, pageWidth, useDemo } from './harness.mjs';

const DESKTOP = { viewport: { width: 1280, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const PROTOCOL = 'alcohol-kare-grabski2022';
// KARE: three infusions of 0.8 mg/kg over 40 minutes (days 3, 10, 17 from day 0).
const INFUSIONS = 3;
const PLAN_DOSE = '0.8';
const PLAN_MINUTES = '40';
const CHANGED_DOSE = '0.9';
const PLAN_SPAN_DAYS = 28;

const STATUS_WORDS = {
  awaiting_check: 'Awaiting the independent double check: the infusion may not start yet',
  check_failed: 'Double check did not match: the infusion may not start until a matching check',
  verified: 'Double-checked: entries match the order',
};

// Calendar dates as UTC midnights, so no local time zone shifts them.
const parseDate = (iso) => new Date(`${iso}T00:00:00Z`);
const isoDate = (d) => d.toISOString().slice(0, 10);
const addDays = (d, n) => new Date(d.getTime() + n * 86_400_000);

/**
 * Day 0 for the plan: the first Monday at least 14 days after `today` (the
 * site's date) such that no day of the plan falls on 25 Dec or 1 Jan, when
 * the demo site is closed. KARE from a Monday keeps every session on a weekday.
 */
function planStart(todayIso) {
  let d = addDays(parseDate(todayIso), 14);
  while (d.getUTCDay() !== 1) d = addDays(d, 1);
  const closed = (x) => (x.getUTCMonth() === 11 && x.getUTCDate() === 25) || (x.getUTCMonth() === 0 && x.getUTCDate() === 1);
  const spansClosure = (start) => Array.from({ length: PLAN_SPAN_DAYS }, (_, i) => addDays(start, i)).some(closed);
  while (spansClosure(d)) d = addDays(d, 7);
  return d;
}

// Exact decimal arithmetic (BigInt fractions), so the expected figures do not
// depend on binary floating point: 72.5 × 0.8 is 58, not 57.99999999999999.
const gcd = (a, b) => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));
const frac = (n, d = 1n) => {
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
};
const dec = (text) => {
  assert.match(text, /^\d+(\.\d+)?$/, `a plain decimal: ${text}`);
  const [whole, part = ''] = text.split('.');
  return frac(BigInt(whole + part), 10n ** BigInt(part.length));
};
const mul = (a, b) => frac(a.n * b.n, a.d * b.d);
const div = (a, b) => frac(a.n * b.d, a.d * b.n);
const add = (a, b) => frac(a.n * b.d + b.n * a.d, a.d * b.d);
/** As the order page prints a figure: exact when it terminates, else "≈" and three decimals. */
function figure(x) {
  let rest = x.d;
  while (rest % 2n === 0n) rest /= 2n;
  while (rest % 5n === 0n) rest /= 5n;
  if (rest === 1n) {
    let text = (x.n / x.d).toString();
    let r = x.n % x.d;
    let digits = '';
    while (r !== 0n) {
      r *= 10n;
      digits += (r / x.d).toString();
      r %= x.d;
    }
    return digits ? `${text}.${digits}` : text;
  }
  const thousandths = (x.n * 2000n + x.d) / (2n * x.d);
  return `≈${thousandths / 1000n}.${(thousandths % 1000n).toString().padStart(3, '0')}`;
}

describe('infusion order and its double check in chromium', () => {
  const { newPage, shot, signIn } = useDemo();

  let doc;
  let given;
  let family;
  let chartPath;
  let orderPath;
  let weight;

  async function clickAndWait(page, locator, matches) {
    await Promise.all([page.waitForURL((u) => matches(u)), locator.click()]);
  }

  const onlyUnexpected = (problems, ...allowed) => problems.filter((p) => !allowed.some((a) => p.startsWith(a)));
  const infusionRows = (page) => page.locator('#plan table.plan-events tbody tr[data-kind="infusion"]');
  const orderStatus = (page) => page.locator('[data-testid="order-status"]');
  const checkRows = (page) => page.locator('#double-check table tbody tr');

  /** From anywhere in the staff UI: Patients → search the family name → the chart → Plan tab. */
  async function openPlanTab(page) {
    await clickAndWait(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients', exact: true }), (u) => u.pathname === '/patients');
    await page.locator('#q').fill(family);
    await clickAndWait(page, page.getByRole('button', { name: 'Search', exact: true }), (u) => u.pathname === '/patients' && u.searchParams.get('q') === family);
    await clickAndWait(page, page.getByRole('link', { name: `${family}, ${given}`, exact: true }), (u) => u.pathname === chartPath);
    await clickAndWait(page, page.getByRole('navigation', { name: 'Chart sections' }).getByRole('link', { name: 'Plan', exact: true }),
      (u) => u.pathname === chartPath && u.searchParams.get('tab') === 'plan');
    await page.locator('#plan[data-plan-state="signed"]').waitFor();
  }

  /** From the order page, back to the chart's Plan tab through the patient's name. */
  async function orderToPlanTab(page) {
    await clickAndWait(page, page.getByRole('main').getByRole('link', { name: `${given} ${family}`, exact: true }),
      (u) => u.pathname === chartPath && u.searchParams.get('tab') === 'plan');
    await page.locator('#plan[data-plan-state="signed"]').waitFor();
  }

  /** The order link in the Dose cell of infusion row `i` (0-based). */
  const orderLink = (page, i) => infusionRows(page).nth(i).locator('td[data-label="Dose"] a');

  /** The order page's status, words and class check together. */
  async function expectStatus(page, status) {
    const el = orderStatus(page);
    await page.locator(`[data-testid="order-status"][data-status="${status}"]`).waitFor();
    assert.equal((await el.innerText()).trim(), STATUS_WORDS[status]);
  }

  test('the physician makes and signs a KARE plan for an eligible patient who drinks', { timeout: TEST_MS }, async () => {
    doc = await newPage(DESKTOP);
    await signIn(doc, 'physician', 'demo');
    await doc.waitForURL((u) => u.pathname === '/home');
    await clickAndWait(doc, doc.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients', exact: true }), (u) => u.pathname === '/patients');

    await doc.locator('#status').selectOption('eligible');
    await clickAndWait(doc, doc.getByRole('button', { name: 'Search', exact: true }), (u) => u.pathname === '/patients' && u.searchParams.get('status') === 'eligible');
    const rows = doc.locator('table.stack tbody tr');
    await rows.first().waitFor();
    const listed = await rows.evaluateAll((trs) => trs.map((tr) => ({
      name: tr.querySelector('td a')?.textContent.trim() ?? '',
      substances: tr.querySelector('td[data-label="Substances"]')?.textContent.trim() ?? '',
    })));
    const drinker = listed.find((r) => r.substances.split(/,\s*/).includes('alcohol'));
    assert.ok(drinker, `an eligible demo patient has alcohol among the substances: ${JSON.stringify(listed)}`);
    [family, given] = drinker.name.split(/,\s*/);
    assert.ok(family && given, `the list shows "Family, Given": ${drinker.name}`);

    await clickAndWait(doc, rows.getByRole('link', { name: drinker.name, exact: true }).first(), (u) => /^\/patients\/[0-9a-f-]{36}$/.test(u.pathname));
    chartPath = new URL(doc.url()).pathname;
    await clickAndWait(doc, doc.getByRole('navigation', { name: 'Chart sections' }).getByRole('link', { name: 'Plan', exact: true }),
      (u) => u.pathname === chartPath && u.searchParams.get('tab') === 'plan');
    await doc.locator('#new-plan').getByRole('heading', { name: 'Treatment plan' }).waitFor();
    await doc.locator('#protocol_id').selectOption(PROTOCOL);
    const today = await doc.locator('#start_date').inputValue();
    assert.match(today, /^\d{4}-\d{2}-\d{2}$/);
    await doc.locator('#start_date').fill(isoDate(planStart(today)));
    await doc.getByRole('button', { name: 'Make the plan' }).click();
    await doc.locator('#plan[data-plan-state="draft"]').waitFor();
    assert.equal(await infusionRows(doc).count(), INFUSIONS, 'KARE has three infusions');
    // A draft is not ordered from.
    assert.equal(await doc.getByRole('link', { name: 'Order this infusion' }).count(), 0, 'no order links on a draft');

    await doc.getByRole('button', { name: 'Sign the plan' }).click();
    await doc.locator('#plan[data-plan-state="signed"]').waitFor();
    // Each infusion of the signed plan can be ordered; nothing is ordered yet.
    const links = await infusionRows(doc).evaluateAll((trs) => trs.map((tr) => tr.querySelector('td[data-label="Dose"] a')?.textContent.trim() ?? ''));
    assert.deepEqual(links, Array(INFUSIONS).fill('Order this infusion'));
    assert.deepEqual(doc.problems, []);
  });

  test('the physician orders the first infusion as planned and sees the arithmetic and the curve', { timeout: TEST_MS }, async () => {
    await clickAndWait(doc, orderLink(doc, 0), (u) => /^\/plan-events\/[0-9a-f-]{36}\/order$/.test(u.pathname));
    const form = doc.locator('#order-form');
    await form.waitFor();
    assert.match(await doc.locator('h1').innerText(), /^Order: ketamine infusion 1$/);

    // Prefilled from the screening weight and the signed plan.
    weight = await doc.locator('#weight_kg').inputValue();
    assert.match(weight, /^\d+(\.\d+)?$/, `the screening weight is prefilled: ${weight}`);
    assert.match(await doc.locator('#weight_measured_on').inputValue(), /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(await doc.locator('#dose-0').inputValue(), PLAN_DOSE);
    assert.equal(await doc.locator('#minutes-0').inputValue(), PLAN_MINUTES);
    assert.equal(await doc.locator('#dose-1').count(), 0, 'KARE has one phase');
    const stock = await doc.locator('#stock').inputValue();
    const bag = await doc.locator('#bag_ml').inputValue();
    assert.equal(stock, '10');
    assert.equal(bag, '100');
    assert.equal(await form.locator('input[name="withdraw_from_bag"]').isChecked(), false);
    assert.equal(await doc.locator('#override_reason').inputValue(), '');
    assert.equal(await form.locator('input[name="acknowledge_warnings"]').count(), 0, 'no acknowledgement without a warning');

    await clickAndWait(doc, form.getByRole('button', { name: 'Sign the order' }), (u) => /^\/orders\/[0-9a-f-]{36}$/.test(u.pathname));
    orderPath = new URL(doc.url()).pathname;
    await expectStatus(doc, 'awaiting_check');

    // weight × dose = total mg; the stock's volume goes into the bag; mL/h over the minutes.
    const mg = mul(dec(weight), dec(PLAN_DOSE));
    const volume = add(dec(bag), div(mg, dec(stock)));
    const rate = div(mul(volume, dec('60')), dec(PLAN_MINUTES));
    assert.equal((await doc.locator('[data-testid="dose-mg"]').innerText()).trim(), `${figure(mg)} mg`);
    const phases = doc.locator('table.order-phases tbody tr');
    assert.equal(await phases.count(), 1);
    assert.equal((await phases.locator('td[data-label="Dose, mg"]').innerText()).trim(), figure(mg));
    assert.equal((await doc.locator('[data-testid="rate"]').innerText()).trim(), figure(rate));
    assert.match(await doc.locator('section.card', { hasText: 'Signed order' }).innerText(), new RegExp(`dosing weight ${weight.replace('.', '\\.')} kg`));

    // The predicted curve: a typical line and the population band, never a target.
    const chart = doc.locator('svg[data-testid="pk-chart"]');
    await chart.waitFor({ state: 'visible' });
    const typical = await chart.locator('path.typical').getAttribute('d');
    assert.match(typical ?? '', /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/, 'the typical curve has points');
    assert.ok((await chart.locator('path.band').getAttribute('d'))?.length > 0, 'the band has a path');
    const box = await chart.boundingBox();
    assert.ok(box && box.width > 300 && box.height > 100, `the chart is drawn at a readable size: ${JSON.stringify(box)}`);
    const caption = doc.locator('figure.pk-chart figcaption');
    await caption.waitFor({ state: 'visible' });
    assert.match(await caption.innerText(), /^Approximate model prediction, not a target\./);

    // The ordering physician does not check their own order.
    assert.equal(await doc.locator('#check-form').count(), 0);
    await doc.getByText('A second clinician (nurse or physician) makes the check.').waitFor({ state: 'visible' });
    assert.match(await doc.locator('#double-check').innerText(), /No check yet\./);
    await shot(doc, 'order-signed.png');

    // The plan tab links the order with its state.
    await orderToPlanTab(doc);
    const link = orderLink(doc, 0);
    assert.equal((await link.innerText()).trim(), 'Order: awaiting check');
    assert.equal(await link.getAttribute('data-order-status'), 'awaiting_check');
    assert.equal((await orderLink(doc, 1).innerText()).trim(), 'Order this infusion');
    assert.deepEqual(doc.problems, []);
  });

  let nurse;

  test('the nurse\'s mismatching double check blocks the start', { timeout: TEST_MS }, async () => {
    nurse = await newPage(DESKTOP);
    await signIn(nurse, 'nurse', 'demo');
    await nurse.waitForURL((u) => u.pathname === '/home');
    await openPlanTab(nurse);
    const link = orderLink(nurse, 0);
    assert.equal((await link.innerText()).trim(), 'Order: awaiting check');
    await clickAndWait(nurse, link, (u) => u.pathname === orderPath);
    await expectStatus(nurse, 'awaiting_check');

    // The check form does not carry the ordered values.
    const form = nurse.locator('#check-form');
    await form.waitFor();
    assert.equal(await nurse.locator('#check-weight').inputValue(), '');
    assert.equal(await nurse.locator('#check-dose-0').inputValue(), '');
    assert.equal(await nurse.locator('#check-dose-1').count(), 0);
    const formHtml = await form.evaluate((f) => f.outerHTML);
    assert.ok(!formHtml.includes(`"${weight}"`), 'the ordered weight is not a value in the check form');
    assert.ok(!formHtml.includes(`"${PLAN_DOSE}"`), 'the ordered dose is not a value in the check form');

    const wrongWeight = weight.replace('.', '');
    assert.notEqual(wrongWeight, weight, 'the mistyped weight differs (a decimal point dropped)');
    await nurse.locator('#check-weight').fill(wrongWeight);
    await nurse.locator('#check-dose-0').fill(PLAN_DOSE);
    await form.getByRole('button', { name: 'Record the double check' }).click();
    await expectStatus(nurse, 'check_failed');
    assert.equal(new URL(nurse.url()).pathname, orderPath);
    const rows = checkRows(nurse);
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute('data-matches'), 'false');
    assert.equal((await rows.first().locator('td[data-label="Result"]').innerText()).trim(),
      `Mismatch: weight: entered ${figure(dec(wrongWeight))} kg, which does not match the order`);
    // The form is offered again, empty, for a matching check.
    assert.equal(await nurse.locator('#check-weight').inputValue(), '');
    await shot(nurse, 'order-mismatch.png');

    await orderToPlanTab(nurse);
    assert.equal((await orderLink(nurse, 0).innerText()).trim(), 'Order: check failed');
    assert.equal(await orderLink(nurse, 0).getAttribute('data-order-status'), 'check_failed');
    assert.deepEqual(nurse.problems, []);
  });

  test('the nurse\'s matching double check verifies the order', { timeout: TEST_MS }, async () => {
    await clickAndWait(nurse, orderLink(nurse, 0), (u) => u.pathname === orderPath);
    await expectStatus(nurse, 'check_failed');
    const form = nurse.locator('#check-form');
    await nurse.locator('#check-weight').fill(weight);
    await nurse.locator('#check-dose-0').fill(PLAN_DOSE);
    await form.getByRole('button', { name: 'Record the double check' }).click();
    await expectStatus(nurse, 'verified');
    assert.equal(new URL(nurse.url()).pathname, orderPath);

    const rows = checkRows(nurse);
    assert.equal(await rows.count(), 2);
    const results = await rows.evaluateAll((trs) => trs.map((tr) => ({
      matches: tr.dataset.matches,
      result: tr.querySelector('td[data-label="Result"]').textContent.trim(),
      by: tr.querySelector('td[data-label="By"]').textContent.trim(),
    })));
    assert.deepEqual(results.map((r) => r.matches), ['false', 'true']);
    assert.match(results[0].result, /^Mismatch: /);
    assert.equal(results[1].result, 'Match');
    assert.equal(results[0].by, results[1].by, 'both checks by the nurse');
    // Verified: no more check form.
    assert.equal(await nurse.locator('#check-form').count(), 0);
    await shot(nurse, 'order-verified.png');

    await orderToPlanTab(nurse);
    assert.equal((await orderLink(nurse, 0).innerText()).trim(), 'Order: verified');
    assert.equal(await orderLink(nurse, 0).getAttribute('data-order-status'), 'verified');
    // The nurse does not sign orders: an unordered infusion says so, with no link to a form she cannot use.
    const second = nurse.locator('#plan table.plan-events tbody tr[data-kind="infusion"]').nth(1).locator('td[data-label="Dose"]');
    assert.match(await second.innerText(), /No order yet/);
    assert.equal(await second.locator('a').count(), 0);
    assert.deepEqual(nurse.problems, []);
  });

  test('a physician who changes the dose from the plan is warned and must acknowledge', { timeout: TEST_MS }, async () => {
    // The physician's page is on the plan tab since the first order; reload it through the chart.
    await openPlanTab(doc);
    assert.equal((await orderLink(doc, 0).innerText()).trim(), 'Order: verified');
    await clickAndWait(doc, orderLink(doc, 1), (u) => /^\/plan-events\/[0-9a-f-]{36}\/order$/.test(u.pathname));
    const formPath = new URL(doc.url()).pathname;
    const form = doc.locator('#order-form');
    await form.waitFor();
    assert.match(await doc.locator('h1').innerText(), /^Order: ketamine infusion 2$/);
    assert.equal(await doc.locator('#dose-0').inputValue(), PLAN_DOSE);
    await doc.locator('#dose-0').fill(CHANGED_DOSE);
    await form.getByRole('button', { name: 'Sign the order' }).click();

    // Not signed: the form comes back with the warning and a required acknowledgement.
    const warnings = doc.locator('#order-warnings');
    await warnings.waitFor({ state: 'visible' });
    assert.equal(new URL(doc.url()).pathname, formPath);
    const warningText = await warnings.innerText();
    assert.match(warningText, /differs from the signed plan/);
    assert.match(warningText, new RegExp(`${CHANGED_DOSE.replace('.', '\\.')} mg/kg`));
    assert.equal(await doc.locator('#dose-0').inputValue(), CHANGED_DOSE, 'the typed dose is kept');
    assert.equal(await doc.locator('#weight_kg').inputValue(), weight);
    const ack = form.locator('input[name="acknowledge_warnings"]');
    await ack.waitFor({ state: 'visible' });
    assert.equal(await ack.isChecked(), false);
    assert.equal(await ack.evaluate((el) => el.required), true);
    await shot(doc, 'order-dose-warning.png');

    // Without the tick the browser does not submit.
    await form.getByRole('button', { name: 'Sign the order' }).click();
    assert.equal(await ack.evaluate((el) => el.validity.valueMissing), true);
    assert.equal(new URL(doc.url()).pathname, formPath);
    await warnings.waitFor({ state: 'visible' });

    await ack.check();
    await clickAndWait(doc, form.getByRole('button', { name: 'Sign the order' }), (u) => /^\/orders\/[0-9a-f-]{36}$/.test(u.pathname));
    assert.notEqual(new URL(doc.url()).pathname, orderPath);
    await expectStatus(doc, 'awaiting_check');
    const mg = mul(dec(weight), dec(CHANGED_DOSE));
    assert.equal((await doc.locator('[data-testid="dose-mg"]').innerText()).trim(), `${figure(mg)} mg`);
    // The acknowledged warning stays on the order.
    assert.match(await doc.locator('ul.warnings').innerText(), /differs from the signed plan/);

    await orderToPlanTab(doc);
    assert.equal((await orderLink(doc, 1).innerText()).trim(), 'Order: awaiting check');
    assert.equal((await orderLink(doc, 2).innerText()).trim(), 'Order this infusion');
    // The only refusal is the warning's 422.
    assert.deepEqual(onlyUnexpected(doc.problems, `HTTP 422 POST `), []);
  });

  test('on a phone the order page does not scroll sideways', { timeout: TEST_MS }, async () => {
    const phone = await newPage(PHONE);
    await signIn(phone, 'nurse', 'demo');
    await phone.waitForURL((u) => u.pathname === '/home');
    await openPlanTab(phone);
    const { scrollWidth: planWidth } = await pageWidth(phone);
    assert.ok(planWidth <= 390, `the plan tab is ${planWidth}px wide on a 390px phone`);

    // The verified order, with its check table and the chart.
    await clickAndWait(phone, orderLink(phone, 0), (u) => u.pathname === orderPath);
    await expectStatus(phone, 'verified');
    await phone.locator('svg[data-testid="pk-chart"]').waitFor({ state: 'visible' });
    let { scrollWidth } = await pageWidth(phone);
    assert.ok(scrollWidth <= 390, `the verified order page is ${scrollWidth}px wide on a 390px phone`);
    const chartBox = await phone.locator('svg[data-testid="pk-chart"]').boundingBox();
    assert.ok(chartBox && chartBox.x >= 0 && chartBox.x + chartBox.width <= 390, `the chart fits: ${JSON.stringify(chartBox)}`);
    await shot(phone, 'order-phone.png');

    // The changed-dose order awaiting its check: warnings and the check form.
    await orderToPlanTab(phone);
    await clickAndWait(phone, orderLink(phone, 1), (u) => /^\/orders\/[0-9a-f-]{36}$/.test(u.pathname));
    await expectStatus(phone, 'awaiting_check');
    await phone.locator('#check-form').waitFor({ state: 'visible' });
    ({ scrollWidth } = await pageWidth(phone));
    assert.ok(scrollWidth <= 390, `the awaiting order page is ${scrollWidth}px wide on a 390px phone`);
    assert.deepEqual(phone.problems, []);
  });
});
