// Browser test for the director's dashboard (issue 9). The director opens
// Analytics from the navigation and reads the demo clinic's program: the
// overview, each protocol's outcomes beside the trial's ketamine arm with a
// plain-words reading, Kaplan–Meier curves with their at-risk tables, the
// funnel, chair utilisation and safety. Aggregates only: no demo patient's
// name appears. Filtering by protocol keeps one panel; the downloads answer
// with CSV; a nurse has no Analytics entry and is refused. Screenshots:
// screenshots/analytics-dashboard.png, analytics-protocol.png.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TEST_MS, pageWidth, useDemo } from './harness.mjs';

const DESKTOP = { viewport: { width: 1280, height: 900 } };

describe('the director reads the program outcomes', () => {
  const { url, newPage, shot, signIn } = useDemo();
  let director;

  test('Analytics shows the program beside the trials, with curves and no names', { timeout: TEST_MS }, async () => {
    director = await newPage(DESKTOP);
    await signIn(director, 'director', 'demo');
    await Promise.all([director.waitForURL((u) => u.pathname === '/analytics'), director.getByRole('link', { name: 'Analytics' }).click()]);
    await director.getByRole('heading', { name: 'Program outcomes' }).waitFor();
    const patients = Number(await director.locator('[data-testid="patients"]').innerText());
    assert.ok(patients >= 20, `the demo has a program to show: ${patients} patients`);
    // At least one protocol draws a curve with its at-risk table.
    const curves = director.locator('[data-testid="km"] svg');
    assert.ok((await curves.count()) >= 3, 'curves for the protocols with settled times');
    const atRisk = await director.locator('[data-testid="at-risk"]').first().innerText();
    assert.match(atRisk, /At risk/);
    // Cocaine (Dakwar 2019): the trial's ketamine arm is beside the clinic's figure, with a reading.
    const cocaine = director.locator('[data-testid="protocol"][data-protocol="cocaine-mbrp-dakwar2019"]');
    const comparison = await cocaine.locator('[data-testid="comparison"]').innerText();
    assert.match(comparison, /48\.2 %/);
    const reading = await cocaine.locator('[data-testid="reading"]').innerText();
    assert.match(reading, /uncontrolled clinic cohort|nothing to compare/);
    assert.doesNotMatch(reading.toLowerCase(), /hazard ratio|effective|better/);
    for (const id of ['funnel', 'utilisation', 'safety', 'downloads']) {
      assert.ok(await director.locator(`[data-testid="${id}"]`).isVisible(), id);
    }
    // Aggregates only: no demo patient's family name anywhere on the page.
    const login = await fetch(url('/api/v1/auth/login'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'physician', password: 'demo' }) });
    const { token } = await login.json();
    const list = await fetch(url('/api/v1/patients?limit=200'), { headers: { authorization: `Bearer ${token}` } });
    const { items } = await list.json();
    assert.ok(items.length >= 20);
    const text = await director.locator('main').innerText();
    for (const p of items) {
      assert.ok(!text.includes(p.family_name), `the dashboard names ${p.family_name}`);
    }
    assert.equal(await director.locator('main a[href^="/patients/"]').count(), 0, 'no link to a chart');
    await shot(director, 'analytics-dashboard.png');
  });

  test('filtering by protocol keeps its panel, and the downloads are CSV', { timeout: TEST_MS }, async () => {
    await director.locator('select[name="protocol"]').selectOption('cocaine-mbrp-dakwar2019');
    await Promise.all([director.waitForURL((u) => u.searchParams.get('protocol') === 'cocaine-mbrp-dakwar2019'), director.getByRole('button', { name: 'Apply' }).click()]);
    const panels = director.locator('[data-testid="protocol"]');
    assert.equal(await panels.count(), 1);
    assert.equal(await panels.first().getAttribute('data-protocol'), 'cocaine-mbrp-dakwar2019');
    const kmHref = await director.getByRole('link', { name: 'Kaplan–Meier tables' }).getAttribute('href');
    assert.match(kmHref, /protocol=cocaine-mbrp-dakwar2019/);
    const km = await director.request.get(url(kmHref));
    assert.equal(km.status(), 200);
    assert.match(km.headers()['content-type'], /text\/csv/);
    const kmText = await km.text();
    assert.ok(kmText.startsWith('arm,time,at_risk,observed,censored,survival,ci_lower,ci_upper\n'), kmText);
    assert.ok(kmText.split('\n').slice(1).filter(Boolean).every((l) => l.startsWith('cocaine-mbrp-dakwar2019,')), kmText);
    const cohort = await director.request.get(url(await director.getByRole('link', { name: 'Time-to-relapse cohort' }).getAttribute('href')));
    const rows = (await cohort.text()).trim().split('\n');
    assert.equal(rows[0], 'patient_id,arm,days,relapsed');
    // The curve's first row counts everyone in the cohort at risk.
    const first = kmText.split('\n')[1].split(',');
    assert.equal(Number(first[2]), rows.length - 1);
    await director.locator('[data-testid="km"] details summary').first().click();
    await shot(director, 'analytics-protocol.png');
  });

  test('on a phone the dashboard does not scroll sideways', { timeout: TEST_MS }, async () => {
    const phone = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await signIn(phone, 'physician', 'demo');
    await phone.waitForURL((u) => u.pathname === '/home');
    await phone.goto(url('/analytics'));
    await phone.getByRole('heading', { name: 'Program outcomes' }).waitFor();
    await shot(phone, 'analytics-phone.png');
    const { scrollWidth, clientWidth } = await pageWidth(phone);
    const widest = await phone.evaluate(() => {
      let worst = null;
      for (const el of document.querySelectorAll('main *')) {
        const r = el.getBoundingClientRect();
        if (r.right > document.documentElement.clientWidth + 1 && (!worst || r.right > worst.right)) worst = { tag: el.tagName, cls: el.className?.baseVal ?? el.className, right: r.right };
      }
      return worst;
    });
    assert.ok(scrollWidth <= clientWidth + 1, `page ${scrollWidth}px wide in a ${clientWidth}px screen; widest ${JSON.stringify(widest)}`);
  });

  test('a nurse has no Analytics and is refused', { timeout: TEST_MS }, async () => {
    const nurse = await newPage(DESKTOP);
    await signIn(nurse, 'nurse', 'demo');
    assert.equal(await nurse.getByRole('link', { name: 'Analytics' }).count(), 0);
    const res = await nurse.goto(url('/analytics'));
    assert.equal(res.status(), 403);
  });
});
