// The admin overview in headless Chromium: an admin sees the figures and the
// charts of a period, drawn from a ledger this test writes (a purchase, a
// grant, chats with AskAT&T and two AskDocs domains of its own), and picks
// another period. Run with e2e/run.sh.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  api,
  checkoutSession,
  deliverCheckoutCompleted,
  devLogin,
  grantTokens,
  launchBrowser,
  openPage,
  publishScreenshot,
  screenshot,
  signIn,
  uniqueEmail,
} from '../lib/harness.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** An AskDocs domain of this test's own (answered by the built-in upstream). */
async function createDomain(token, label) {
  const slug = `${label}-${Math.random().toString(36).slice(2, 8)}`;
  const displayName = `${label.toUpperCase()} ${slug.slice(label.length + 1)}`;
  const res = await api('/api/domains', { method: 'POST', token, body: { name: slug, display_name: displayName } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id, displayName };
}

async function chat(token, path, body) {
  const res = await api(path, { method: 'POST', token, body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

describe('admin overview', () => {
  test('an admin sees the overview charts with the figures of the ledger, and picks another period', async () => {
    const adminEmail = uniqueEmail('overview-admin');
    const { session_token: admin } = await devLogin(adminEmail, true);
    const policies = await createDomain(admin, 'policies');
    const travel = await createDomain(admin, 'travel');

    const email = uniqueEmail('overview-buyer');
    const { session_token: token } = await devLogin(email);
    const checkout = await api('/api/checkout-session', { method: 'POST', body: { package: '100' }, token });
    assert.equal(checkout.status, 200, JSON.stringify(checkout.body));
    await deliverCheckoutCompleted(await checkoutSession(checkout.body.id));
    await grantTokens(email, 20);
    for (let i = 0; i < 2; i += 1) await chat(token, '/api/askatt/chat', { message: 'Hello?' });
    for (let i = 0; i < 3; i += 1) await chat(token, '/api/askdocs/chat', { message: 'Leave?', domain_id: policies.id });
    await chat(token, '/api/askdocs/chat', { message: 'Trains?', domain_id: travel.id });

    await withPage('admin-overview', async (page) => {
      await signIn(page, { email: adminEmail, name: 'Grace Admin', admin: true });
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Overview' }).click();
      await page.waitForURL(/\/admin\/overview$/);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();

      // The domains are this test's own: their spending is known exactly.
      const domains = page.getByTestId('overview-chart-domain');
      await domains.getByText(policies.displayName, { exact: true }).waitFor();
      const domainChart = domains.getByRole('img');
      const summary = await domainChart.getAttribute('aria-labelledby');
      const title = await page.locator(`[id="${summary}"]`).textContent();
      assert.match(title, new RegExp(`${policies.displayName}: 3\\b`));
      assert.match(title, new RegExp(`${travel.displayName}: 1\\b`));

      // Every chart is drawn, titled for screen readers.
      for (const id of ['daily', 'service', 'domain', 'package', 'liability']) {
        const chart = page.getByTestId(`overview-chart-${id}`);
        assert.equal(await chart.locator('svg[role="img"]').count(), 1, id);
        assert.ok((await chart.locator('svg > title').textContent()).length > 0, id);
      }
      const today = new Date().toISOString().slice(0, 10);
      const daily = page.getByTestId('overview-chart-daily');
      assert.equal(await daily.locator(`rect[data-day="${today}"][data-series="sold"]`).count(), 1);
      assert.equal(await daily.locator(`rect[data-day="${today}"][data-series="spent"]`).count(), 1);
      assert.equal(await daily.locator('rect[data-series]').first().getAttribute('data-day'), today);
      const packages = await page.getByTestId('overview-chart-package').textContent();
      assert.match(packages, /100 tokens/);
      const services = await page.getByTestId('overview-chart-service').locator('svg > title').textContent();
      assert.match(services, /AskAT&T: \d+, AskDocs: \d+/);
      assert.match(await page.getByTestId('overview-period').textContent(), /^30 days, /);

      // The API's figures for the same period hold this test's ledger.
      const figures = await api('/api/admin/overview', { token: admin });
      assert.equal(figures.status, 200);
      assert.ok(figures.body.sales.tokens >= 100);
      assert.ok(figures.body.spent.tokens >= 6);
      assert.ok(figures.body.grants.tokens >= 20);
      assert.ok(figures.body.liability.tokens >= 114);
      const shot = await screenshot(page, 'admin-overview');
      await publishScreenshot(shot, 'docs/screenshots/admin-overview.png');

      // A period before any of it: nothing sold, spent or owed.
      await page.getByLabel('From').fill('2026-01-01');
      await page.getByLabel('To (included)').fill('2026-01-31');
      await page.getByRole('button', { name: 'Show' }).click();
      await page.getByTestId('overview-period').getByText('31 days, 2026-01-01 to 2026-01-31.').waitFor();
      await page.waitForURL(/\/admin\/overview\?from=2026-01-01&to=2026-01-31$/);
      assert.equal((await page.getByTestId('figure-sold').locator('dd.number').textContent()).trim(), '0');
      assert.equal((await page.getByTestId('figure-spent').locator('dd.number').textContent()).trim(), '0');
      assert.equal((await page.getByTestId('figure-liability-tokens').locator('dd.number').textContent()).trim(), '0');
      await page.getByTestId('overview-chart-domain').getByText('Nothing in this period.').waitFor();
      assert.equal(await daily.locator('rect[data-series]').count(), 0);
    });
  });
});

/** Runs `fn(page)` in a fresh context; on failure keeps a screenshot. */
async function withPage(name, fn) {
  const page = await openPage(browser);
  try {
    await fn(page);
    page.checkErrors();
  } catch (err) {
    await screenshot(page, `failed-${name}`).catch(() => {});
    throw err;
  } finally {
    await page.context().close();
  }
}
