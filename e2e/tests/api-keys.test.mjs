// The API keys page in headless Chromium, against the real binary and
// database: a key is made with its scopes, its secret shown once, used from a
// script, and revoked, after which the script is refused.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, grantTokens, launchBrowser, openPage, screenshot, signIn, uniqueEmail } from '../lib/harness.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('a user makes an API key, a script uses it, and revoking it stops the script', async () => {
  const page = await openPage(browser);
  try {
    const email = uniqueEmail('keys');
    await signIn(page, { email, name: 'Kay Keys' });
    await grantTokens(email, 3);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL(/\/api-keys$/);
    await page.getByText('You have no API keys yet.').waitFor();

    await page.getByLabel('Name').fill('laptop CLI');
    await page.getByLabel('Read balance').check();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Key "laptop CLI" created.').waitFor();
    const secret = await page.getByLabel('Secret').inputValue();
    assert.match(secret, /^agk_[A-Za-z0-9_-]{43}$/);
    await screenshot(page, 'api-keys-created');

    // The list shows the key by prefix only.
    const row = page.locator('#api-keys tbody tr');
    await row.getByText(`${secret.slice(0, 12)}…`).waitFor();
    assert.equal(await page.locator('#api-keys').getByText(secret).count(), 0);

    // A script with the key reads the balance, and may do nothing else.
    const balance = await api('/api/user/tokens', { token: secret });
    assert.equal(balance.status, 200, JSON.stringify(balance.body));
    assert.equal(balance.body.tokens, 3);
    const chat = await api('/api/askatt/chat', { method: 'POST', token: secret, body: { message: 'hi' } });
    assert.equal(chat.status, 403);
    assert.equal(chat.body.code, 'insufficient_scope');

    await page.getByRole('button', { name: 'Revoke laptop CLI' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('Revoked laptop CLI.').waitFor();
    await row.getByText(/^Revoked /).waitFor();

    const refused = await api('/api/user/tokens', { token: secret });
    assert.equal(refused.status, 401);
    page.checkErrors();
  } catch (err) {
    await screenshot(page, 'failed-api-keys').catch(() => {});
    throw err;
  } finally {
    await page.context().close();
  }
});

test('an admin registers an app, its credentials work, and revoking it stops them', async () => {
  const page = await openPage(browser);
  try {
    await signIn(page, { email: uniqueEmail('apps-admin'), name: 'Ada Admin', admin: true });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Apps' }).click();
    await page.waitForURL(/\/admin\/apps$/);

    const name = `Slides ${Date.now()}`;
    await page.getByLabel('Name').fill(name);
    await page.getByLabel('token:introspect').check();
    await page.getByLabel('Return URLs (one a line)').fill('https://slides.example.com/done');
    await page.getByRole('button', { name: 'Register app' }).click();
    await page.getByText(`${name} registered.`).waitFor();
    const secret = await page.getByLabel('Client secret').inputValue();
    const clientId = await page.locator('#new-app-secret code').textContent();
    assert.match(secret, /^ags_[A-Za-z0-9_-]{43}$/);
    await screenshot(page, 'admin-apps-registered');

    const introspect = () =>
      fetch(`${page.url().replace(/\/admin\/apps$/, '')}/api/v1/token/introspect`, {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: 'token=nonsense',
      });
    const asked = await introspect();
    assert.equal(asked.status, 200);
    assert.deepEqual(await asked.json(), { active: false });

    await page.getByRole('button', { name: `Revoke ${name}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke app' }).click();
    await page.getByText(`Revoked ${name}.`).waitFor();
    assert.equal((await introspect()).status, 401);
    page.checkErrors();
  } catch (err) {
    await screenshot(page, 'failed-admin-apps').catch(() => {});
    throw err;
  } finally {
    await page.context().close();
  }
});
