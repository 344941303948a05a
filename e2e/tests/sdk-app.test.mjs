// Another team's app, on its own origin, built on the TypeScript SDK
// (sdk/js/example): a person signs in through the SDK's askgate popup, sees
// their balance, spends a token through the app's backend, and starts a
// purchase. And the SDK's server functions against the live server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startExample } from '../../sdk/js/example/server.mjs';
import { AskgateApp } from '../../sdk/js/src/server.js';
import { api, BASE_URL, checkoutSession, devLogin, grantTokens, launchBrowser, openPage, signIn, uniqueEmail } from '../lib/harness.mjs';

// e2e/run.sh lets this origin call askgate (ALLOWED_ORIGINS) and names its port.
const EXAMPLE_PORT = Number(process.env.E2E_EXAMPLE_PORT);
const EXAMPLE_ORIGIN = `http://127.0.0.1:${EXAMPLE_PORT}`;

let example;
let credentials;

before(async () => {
  assert.ok(EXAMPLE_PORT, 'E2E_EXAMPLE_PORT names the example app port (e2e/run.sh sets it)');
  const { session_token: admin } = await devLogin(uniqueEmail('sdk-admin'), true);
  const registered = await api('/api/admin/apps', {
    method: 'POST',
    token: admin,
    body: {
      name: 'Example app',
      allowed_origins: [EXAMPLE_ORIGIN],
      allowed_return_urls: [`${EXAMPLE_ORIGIN}/bought`, `${EXAMPLE_ORIGIN}/`],
      scopes: ['token:introspect', 'balance:read', 'credits:consume', 'checkout:create'],
    },
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  credentials = { clientId: registered.body.client_id, clientSecret: registered.body.client_secret };
  example = await startExample({ port: EXAMPLE_PORT, askgateUrl: BASE_URL, ...credentials });
});

after(async () => {
  await example?.close();
});

describe('an app built on the SDK', () => {
  test('signs a person in through askgate, shows the balance, spends a token and starts a purchase', async () => {
    const email = uniqueEmail('sdk-user');
    const browser = await launchBrowser();
    try {
      const askgate = await openPage(browser);
      await signIn(askgate, { email });
      await grantTokens(email, 3);

      const page = await askgate.context().newPage();
      await page.goto(`${EXAMPLE_ORIGIN}/`);
      const [popup] = await Promise.all([page.waitForEvent('popup'), page.locator('#sign-in').click()]);
      await popup.waitForURL(/\/connect\?/);
      assert.equal(new URL(popup.url()).origin, BASE_URL, 'the popup is askgate');
      await popup.locator('#connect-allow').click();
      await page.locator('#status', { hasText: `Signed in as ${email}` }).waitFor();
      await page.locator('#balance', { hasText: /^3$/ }).waitFor();

      await page.locator('#spend').click();
      await page.locator('#balance', { hasText: /^2$/ }).waitFor();
      const { session_token: own } = await devLogin(email);
      const history = await api('/api/user/transactions', { token: own });
      const spent = history.body.items[0];
      assert.equal(spent.type, 'consumption');
      assert.equal(spent.service_type, 'app', 'the app spent it, not a chat');
      // The person's own usage page names the app and its reason.
      await askgate.goto('/usage');
      await askgate.locator('tr[data-type="consumption"]', { hasText: 'Example app: example summary' }).waitFor();

      await page.locator('#buy').click();
      await page.waitForURL((url) => !url.href.startsWith(EXAMPLE_ORIGIN));
      // The (fake) Stripe Checkout page; paid or not, Stripe sends the person back to the app.
      const sessionId = new URL(page.url()).searchParams.get('session_id');
      assert.ok(sessionId, `off to Stripe Checkout: ${page.url()}`);
      const session = await checkoutSession(sessionId);
      assert.ok(session.success_url.startsWith(`${EXAMPLE_ORIGIN}/bought`), session.success_url);
    } finally {
      await browser.close();
    }
  });

  test('without a popup, the whole window goes to askgate and comes back signed in, the token gone from the address', async () => {
    const email = uniqueEmail('sdk-redirect');
    const browser = await launchBrowser();
    try {
      const askgate = await openPage(browser);
      await signIn(askgate, { email });
      await grantTokens(email, 1);
      const page = await askgate.context().newPage();
      await page.goto(`${EXAMPLE_ORIGIN}/`);
      await page.locator('#sign-in-redirect').click();
      await page.waitForURL(/\/connect\?/);
      assert.equal(new URL(page.url()).origin, BASE_URL);
      await page.locator('#connect-allow').click();
      await page.locator('#status', { hasText: `Signed in as ${email}` }).waitFor();
      await page.locator('#balance', { hasText: /^1$/ }).waitFor();
      assert.equal(new URL(page.url()).hash, '', 'the session left the address');
    } finally {
      await browser.close();
    }
  });

  test('a page at an origin the app did not register is handed nothing', async () => {
    const { session_token: token } = await devLogin(uniqueEmail('sdk-stranger'));
    const refused = await api('/api/user/app-sessions', {
      method: 'POST',
      token,
      body: { client_id: credentials.clientId, origin: 'https://evil.example.com' },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.session, undefined);
    const unknown = await api('/api/user/app-sessions', {
      method: 'POST',
      token,
      body: { client_id: '00000000-0000-7000-8000-000000000000', origin: EXAMPLE_ORIGIN },
    });
    assert.equal(unknown.status, 404);
    const elsewhere = await api('/api/user/app-sessions', {
      method: 'POST',
      token,
      body: { client_id: credentials.clientId, return_url: 'https://evil.example.com/' },
    });
    assert.equal(elsewhere.status, 403, 'a return URL the app did not register');
    assert.equal(elsewhere.body.session, undefined);
  });

  test("the server functions verify a person, spend, refund once, and read the balance with the app's credentials", async () => {
    const email = uniqueEmail('sdk-server');
    await devLogin(email);
    await grantTokens(email, 5);
    const { session_token: token } = await devLogin(email);
    const app = new AskgateApp({ url: BASE_URL, ...credentials });

    const who = await app.introspect(token);
    assert.equal(who.active, true);
    assert.equal(who.email, email);
    assert.deepEqual(await app.introspect('not-a-token'), { active: false });

    const spent = await app.consume({ token, amount: 2, reason: 'a summary', idempotencyKey: 'sdk-1' });
    const again = await app.consume({ token, amount: 2, reason: 'a summary', idempotencyKey: 'sdk-1' });
    assert.equal(again.id, spent.id, 'a retry spends nothing more');
    assert.equal(await app.balance(token), 3);
    await app.refund(spent.id);
    await assert.rejects(app.refund(spent.id), (err) => err.status === 409);
    assert.equal(await app.balance(token), 5);
    await assert.rejects(app.consume({ token, amount: 6, reason: 'too much', idempotencyKey: 'sdk-2' }), (err) => err.status === 402);

    const wrong = new AskgateApp({ url: BASE_URL, clientId: credentials.clientId, clientSecret: 'ags_wrong' });
    await assert.rejects(wrong.balance(token), (err) => err.status === 401);
  });
});
