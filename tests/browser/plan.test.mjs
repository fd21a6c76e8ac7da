// Browser test for the treatment plan and its scheduling in the ketaclinic
// demo (issue 5): the physician finds an eligible patient who drinks, makes a
// KARE plan from the chart's Plan tab, signs it, schedules the whole plan, and
// the day board shows the first infusion in a chair. On a phone the plan tab
// does not scroll sideways. Clicks through visible controls only; screenshots
// go to screenshots/plan-draft.png, plan-scheduled.png, day-board.png and
// plan-phone.png.
//
// The tests run in order and share the patient and the plan.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_MS, pageWidth, useDemo } from './harness.mjs';

const DESKTOP = { viewport: { width: 1280, height: 900 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const PROTOCOL = 'alcohol-kare-grabski2022';
// KARE from day 0: infusions on days 3, 10 and 17; therapy until day 21.
const INFUSION_DAYS = [3, 10, 17];
const PLAN_SPAN_DAYS = 28;
const ESCORT = 'Morgan Plantest';
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

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

/** "Thu 2027-01-07" as the plan table writes a date. */
const planDateText = (d) => `${WEEKDAYS[d.getUTCDay()]} ${isoDate(d)}`;
/** "Thu 7 Jan" as a booking is written in the plan table. */
const bookedDateText = (d) => `${WEEKDAYS[d.getUTCDay()]} ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;

describe('treatment plan and scheduling in chromium', () => {
  const { newPage, shot, signIn } = useDemo();

  let doc;
  let given;
  let family;
  let chartPath;
  let firstInfusion;

  async function clickAndWait(page, locator, matches) {
    await Promise.all([page.waitForURL((u) => matches(u)), locator.click()]);
  }

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

  const infusionRows = (page) => page.locator('#plan table.plan-events tbody tr[data-kind="infusion"]');

  test('the physician makes a KARE plan for an eligible patient who drinks', { timeout: TEST_MS }, async () => {
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
      status: tr.querySelector('td[data-label="Status"]')?.textContent.trim() ?? '',
    })));
    assert.ok(listed.length > 0, 'the demo has eligible patients');
    assert.ok(listed.every((r) => r.status === 'eligible'), `only eligible patients are listed: ${JSON.stringify(listed)}`);
    const drinker = listed.find((r) => r.substances.split(/,\s*/).includes('alcohol'));
    assert.ok(drinker, `an eligible demo patient has alcohol among the substances: ${JSON.stringify(listed)}`);
    [family, given] = drinker.name.split(/,\s*/);
    assert.ok(family && given, `the list shows "Family, Given": ${drinker.name}`);

    await clickAndWait(doc, rows.getByRole('link', { name: drinker.name, exact: true }).first(), (u) => /^\/patients\/[0-9a-f-]{36}$/.test(u.pathname));
    chartPath = new URL(doc.url()).pathname;
    const h1 = await doc.locator('h1').innerText();
    assert.match(h1, new RegExp(`${given} ${family}`));
    assert.match(h1, /eligible/);
    assert.match(await fact(doc, 'Substances'), /\balcohol\b/);

    await clickAndWait(doc, doc.getByRole('navigation', { name: 'Chart sections' }).getByRole('link', { name: 'Plan', exact: true }),
      (u) => u.pathname === chartPath && u.searchParams.get('tab') === 'plan');
    const card = doc.locator('#new-plan');
    await card.getByRole('heading', { name: 'Treatment plan' }).waitFor();
    // Only protocols that treat the patient's substances are offered; KARE treats alcohol.
    const offered = await doc.locator('#protocol_id option').evaluateAll((os) => os.map((o) => o.value));
    assert.ok(offered.includes(PROTOCOL), `KARE is offered: ${offered}`);
    await doc.locator('#protocol_id').selectOption(PROTOCOL);
    // The date field starts at the site's today.
    const today = await doc.locator('#start_date').inputValue();
    assert.match(today, /^\d{4}-\d{2}-\d{2}$/);
    const start = planStart(today);
    await doc.locator('#start_date').fill(isoDate(start));
    await doc.getByRole('button', { name: 'Make the plan' }).click();

    const plan = doc.locator('#plan[data-plan-state="draft"]');
    await plan.waitFor();
    assert.equal(await doc.locator('[data-testid="plan-state"]').innerText(), 'draft');
    assert.match(await plan.innerText(), new RegExp(`Protocol ${PROTOCOL} version .* day 0 ${isoDate(start)}`));
    assert.equal(await doc.locator('#plan table.plan-events caption').innerText(), 'The plan beside what happened');
    const infusions = infusionRows(doc);
    assert.equal(await infusions.count(), INFUSION_DAYS.length, 'KARE has three infusions');
    const cells = await infusions.evaluateAll((trs) => trs.map((tr) => ({
      status: tr.dataset.status,
      date: tr.querySelector('td[data-label="Date"]').textContent.trim(),
      day: tr.querySelector('td[data-label="Day"]').textContent.trim(),
      what: tr.querySelector('td[data-label="What happened"]').textContent.trim(),
    })));
    assert.deepEqual(cells, INFUSION_DAYS.map((n) => ({
      status: 'planned',
      date: planDateText(addDays(start, n)),
      day: String(n),
      what: 'Not booked yet',
    })));
    firstInfusion = addDays(start, INFUSION_DAYS[0]);
    // A draft is not booked: the scheduling form waits for the signature.
    assert.equal(await doc.locator('#schedule-plan').count(), 0);
    await shot(doc, 'plan-draft.png');
    assert.deepEqual(doc.problems, []);
  });

  test('the physician signs the plan and schedules it whole', { timeout: TEST_MS }, async () => {
    await doc.getByRole('button', { name: 'Sign the plan' }).click();
    await doc.locator('#plan[data-plan-state="signed"]').waitFor();
    assert.equal(await doc.locator('[data-testid="plan-state"]').innerText(), 'signed');
    assert.equal(await doc.getByRole('button', { name: 'Sign the plan' }).count(), 0);

    const form = doc.locator('#schedule-plan');
    await form.waitFor();
    assert.equal(await doc.locator('#plan-time').inputValue(), '09:00');
    await doc.locator('#plan-escort').fill(ESCORT);
    await form.getByRole('button', { name: 'Schedule whole plan' }).click();

    // Either the plan comes back booked, or the refusal page names the conflicts.
    const booked = infusionRows(doc).and(doc.locator('[data-status="booked"]')).first();
    const refused = doc.locator('ul.conflicts');
    await booked.or(refused).waitFor();
    if (await refused.isVisible()) {
      const conflicts = await refused.locator('li').evaluateAll((lis) => lis.map((li) => `${li.dataset.code}: ${li.textContent.trim()}`));
      assert.fail(`the whole plan was refused: ${conflicts.join('; ')}`);
    }
    assert.equal(new URL(doc.url()).pathname, chartPath);
    assert.equal(new URL(doc.url()).searchParams.get('tab'), 'plan');

    const infusions = infusionRows(doc);
    assert.equal(await infusions.count(), INFUSION_DAYS.length);
    const cells = await infusions.evaluateAll((trs) => trs.map((tr) => ({
      status: tr.dataset.status,
      badge: tr.querySelector('td[data-label="What happened"] .badge')?.textContent.trim() ?? '',
      what: tr.querySelector('td[data-label="What happened"]').textContent.replace(/\s+/g, ' ').trim(),
    })));
    cells.forEach((c, i) => {
      const day = addDays(firstInfusion, INFUSION_DAYS[i] - INFUSION_DAYS[0]);
      assert.equal(c.status, 'booked', `infusion ${i + 1} is booked`);
      assert.equal(c.badge, 'Booked', `infusion ${i + 1} shows the Booked badge`);
      // Booked on the planned day, from 09:00, in a chair.
      assert.match(c.what, new RegExp(`^Booked ${bookedDateText(day)} \\d{2}:\\d{2} · Chair \\d`), `infusion ${i + 1}: ${c.what}`);
    });
    // Therapy sessions of the plan are booked as well.
    const therapy = await doc.locator('#plan table.plan-events tbody tr[data-kind="therapy"]').evaluateAll((trs) => trs.map((tr) => tr.dataset.status));
    assert.ok(therapy.length > 0 && therapy.every((s) => s === 'booked'), `therapy sessions booked: ${therapy}`);
    await shot(doc, 'plan-scheduled.png');
    assert.deepEqual(doc.problems, []);
  });

  test('the day board shows the first infusion with the patient', { timeout: TEST_MS }, async () => {
    await clickAndWait(doc, doc.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedule', exact: true }), (u) => u.pathname === '/schedule');
    await doc.locator('#date').fill(isoDate(firstInfusion));
    await clickAndWait(doc, doc.getByRole('button', { name: 'Show', exact: true }), (u) => u.pathname === '/schedule' && u.searchParams.get('date') === isoDate(firstInfusion));

    const initials = `${given[0]}${family[0]}`.toUpperCase();
    const board = doc.locator('svg[data-testid="day-board"]');
    await board.waitFor();
    const blocks = await board.locator('g.booking.infusion').evaluateAll((gs) => gs.map((g) => ({
      booking: g.dataset.booking,
      text: g.querySelector('text')?.textContent.trim() ?? '',
    })));
    const ours = blocks.filter((b) => b.text === initials);
    assert.ok(ours.length >= 1, `an infusion block reads ${initials}: ${JSON.stringify(blocks)}`);
    assert.ok(ours.every((b) => /^[0-9a-f-]{36}$/.test(b.booking)), 'each block names its booking');

    // The patient's rows that day: the infusion, and the therapy session KARE puts on the same day.
    const rows = doc.locator('[data-testid="day-table"] tbody tr').filter({ has: doc.getByRole('link', { name: `${given} ${family}`, exact: true }) });
    assert.deepEqual((await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.kind))).sort(), ['infusion', 'therapy']);
    const row = rows.and(doc.locator('[data-kind="infusion"]'));
    assert.equal(await row.count(), 1, 'the table lists the patient\'s infusion once');
    const what = await row.locator('td[data-label="What"]').innerText();
    assert.match(what, /^Infusion/);
    assert.match(what, new RegExp(`Escort: ${ESCORT}`));
    assert.match(await row.locator('td[data-label="Where"]').innerText(), /^Chair \d/);
    assert.match(await row.locator('td[data-label="Time"]').innerText(), /^\d{2}:\d{2}–\d{2}:\d{2}/);
    await shot(doc, 'day-board.png');
    assert.deepEqual(doc.problems, []);
  });

  test('on a phone the plan tab does not scroll sideways', { timeout: TEST_MS }, async () => {
    const phone = await newPage(PHONE);
    await signIn(phone, 'physician', 'demo');
    await phone.waitForURL((u) => u.pathname === '/home');
    await clickAndWait(phone, phone.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients', exact: true }), (u) => u.pathname === '/patients');
    await phone.locator('#q').fill(family);
    await clickAndWait(phone, phone.getByRole('button', { name: 'Search', exact: true }), (u) => u.pathname === '/patients' && u.searchParams.get('q') === family);
    await clickAndWait(phone, phone.getByRole('link', { name: `${family}, ${given}`, exact: true }), (u) => u.pathname === chartPath);
    await clickAndWait(phone, phone.getByRole('navigation', { name: 'Chart sections' }).getByRole('link', { name: 'Plan', exact: true }),
      (u) => u.pathname === chartPath && u.searchParams.get('tab') === 'plan');
    await phone.locator('#plan[data-plan-state="signed"]').waitFor();
    assert.equal(await infusionRows(phone).count(), INFUSION_DAYS.length);
    const { scrollWidth } = await pageWidth(phone);
    assert.ok(scrollWidth <= 390, `the plan tab is ${scrollWidth}px wide on a 390px phone`);
    await shot(phone, 'plan-phone.png');
    assert.deepEqual(phone.problems, []);
  });
});
