// askgate's web UI in headless Chromium, against the real binary and database.
// Run with e2e/run.sh. Every test fails on any console error or uncaught page
// error except the failed API calls it expects.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ASKDOCS_URL,
  api,
  checkoutSession,
  deliverCheckoutCompleted,
  devLogin,
  expectBalance,
  grantTokens,
  launchBrowser,
  openPage,
  publishScreenshot,
  screenshot,
  signIn,
  signInWithForm,
  uniqueEmail,
} from '../lib/harness.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

/** Runs `fn(page)` in a fresh context; on failure keeps a screenshot. */
async function withPage(name, options, fn) {
  const page = await openPage(browser, options);
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

async function ask(page, question) {
  await page.getByLabel('Message', { exact: true }).fill(question);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** The last answer, once it has arrived whole (it streams in). */
async function answered(page, text = 'for real answers.') {
  const answer = page.locator('.message.assistant').last();
  await answer.getByText(text).waitFor();
  await answer.and(page.locator('.streaming')).waitFor({ state: 'detached' });
  return answer;
}

/**
 * A question the demo upstream takes a while to answer: it echoes up to 200
 * characters of it, one word at a time, so this gives it a hundred words.
 */
const LONG_QUESTION = Array.from({ length: 100 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ');

/**
 * Records, in the page, the length of the last answer's text each time it
 * changes while the answer is still arriving (`.message.streaming`).
 */
async function recordAnswerGrowth(page) {
  await page.evaluate(() => {
    window.answerLengths = [];
    new MutationObserver(() => {
      const streaming = document.querySelector('.message.assistant.streaming .message-text');
      if (!streaming) return;
      const length = streaming.textContent.length;
      if (length !== window.answerLengths.at(-1)) window.answerLengths.push(length);
    }).observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
  });
}

describe('askgate web UI', () => {
  test('a new user with no tokens is told they are out of tokens and offered to buy', async () => {
    const allow = [{ status: 402, path: '/api/askatt/chat' }];
    await withPage('out-of-tokens', { allow }, async (page) => {
      await page.goto('/');
      await page.waitForURL(/\/signin/);
      await page.getByRole('button', { name: 'Sign in (development)' }).waitFor();
      await screenshot(page, 'signin');

      await signInWithForm(page, { email: uniqueEmail('broke'), name: 'Broke Bob' });
      await page.waitForURL(/\/chat$/);
      await expectBalance(page, 0);

      await ask(page, 'What is the capital of France?');
      await page.getByText('You are out of tokens.').waitFor();
      const buy = page.getByRole('link', { name: 'Buy tokens' }).and(page.locator('#buy-tokens'));
      await buy.waitFor();
      // The question is kept for after the purchase.
      assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'What is the capital of France?');
      await screenshot(page, 'chat-out-of-tokens');

      await buy.click();
      await page.waitForURL(/\/buy$/);
      await page.getByRole('heading', { name: 'Buy tokens', level: 1 }).waitFor();
    });
  });

  test('buying 100 tokens credits them once Stripe confirms, and a chat answer costs one', async () => {
    await withPage('purchase', {}, async (page) => {
      await signIn(page, { email: uniqueEmail('buyer'), name: 'Ada Lovelace' });
      await expectBalance(page, 0);

      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Buy tokens' }).click();
      await page.waitForURL(/\/buy$/);
      for (const [tokens, price] of [
        [100, '$5.00'],
        [250, '$10.00'],
        [600, '$20.00'],
      ]) {
        await page.locator(`[data-package="${tokens}"]`).getByText(price).waitFor();
      }
      await screenshot(page, 'buy');

      await page.getByRole('button', { name: 'Buy 100 tokens' }).click();
      // The fake Checkout sends the browser straight back, as Stripe does after paying.
      await page.waitForURL(/\/purchase\/success\?session_id=cs_test_/);
      await page.getByText('Waiting for Stripe to confirm your payment').waitFor();
      const sessionId = new URL(page.url()).searchParams.get('session_id');

      const session = await checkoutSession(sessionId);
      assert.equal(session.metadata.package, '100');
      await deliverCheckoutCompleted(session);

      await page.locator('#new-balance').filter({ hasText: /^100$/ }).waitFor();
      await expectBalance(page, 100);
      await screenshot(page, 'purchase-success');

      await page.getByRole('link', { name: 'Start chatting' }).click();
      await page.waitForURL(/\/chat$/);
      await ask(page, 'Summarise our travel policy in one sentence.');
      const answer = await answered(page);
      assert.match(await answer.locator('.message-author').textContent(), /AskAT&T/);
      await expectBalance(page, 99);
      await screenshot(page, 'chat');
    });
  });

  test('an answer renders as Markdown, and markup in it stays text', async () => {
    const email = uniqueEmail('markdown');
    await withPage('markdown', {}, async (page) => {
      await signIn(page, { email, name: 'Grace Hopper' });
      await grantTokens(email, 1);
      await page.reload();
      await expectBalance(page, 1);

      // The demo upstream echoes the question, so the question is the answer's Markdown.
      await ask(
        page,
        'Show **bold** and `inline`\n```js\nconst x = 1;\n```\n<script>window.pwned = 1</script> <img src=x onerror="window.pwned = 2">',
      );
      const answer = await answered(page);
      assert.equal(await answer.locator('strong').first().textContent(), 'bold');
      assert.equal(await answer.locator('p code').first().textContent(), 'inline');
      assert.equal(await answer.locator('pre code').textContent(), 'const x = 1;');
      await answer.getByRole('button', { name: 'Copy' }).waitFor();
      // The tags are characters on the page, not elements, and ran nothing.
      assert.equal(await answer.locator('script, img').count(), 0);
      assert.match(await answer.textContent(), /<script>window\.pwned = 1<\/script> <img src=x onerror="window\.pwned = 2">/);
      assert.equal(await page.evaluate(() => window.pwned), undefined);
      await expectBalance(page, 0);
      await screenshot(page, 'chat-markdown');
    });
  });

  test('a streamed answer appears bit by bit, and the charging rules are beside the composer', async () => {
    const email = uniqueEmail('stream');
    await devLogin(email);
    await grantTokens(email, 2);
    await withPage('streaming', {}, async (page) => {
      await signIn(page, { email });
      await expectBalance(page, 2);
      await page.locator('#charging-help').getByText('Stop ends the answer').waitFor();

      await recordAnswerGrowth(page);
      await ask(page, LONG_QUESTION);
      const answer = page.locator('.message.assistant').last();
      // While it streams, Stop is offered and the token is already held.
      await page.getByRole('button', { name: 'Stop' }).waitFor();
      await expectBalance(page, 1);
      await answered(page);
      await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden' });

      const lengths = await page.evaluate(() => window.answerLengths);
      assert.ok(lengths.length >= 5, `the answer was shown in ${lengths.length} steps: ${lengths}`);
      assert.deepEqual(
        lengths,
        [...lengths].sort((a, b) => a - b),
        'the answer only grew',
      );
      const full = (await answer.locator('.message-text').textContent()).length;
      assert.ok(lengths[0] < full / 2, `the first part shown (${lengths[0]} characters) is a small part of the answer (${full})`);
      assert.equal(await answer.locator('.marker').count(), 0, 'a whole answer carries no marker');
      await expectBalance(page, 1);
      await screenshot(page, 'chat-streamed');
    });
  });

  test('Stop ends a streaming answer: the part shown stays, the token is spent, and it is kept marked interrupted', async () => {
    const email = uniqueEmail('stop');
    const { session_token: token } = await devLogin(email);
    await grantTokens(email, 3);
    await withPage('stop', {}, async (page) => {
      await signIn(page, { email });
      await expectBalance(page, 3);
      await ask(page, LONG_QUESTION);
      const answer = page.locator('.message.assistant').last();
      await answer.getByText('You asked').waitFor();
      await page.getByRole('button', { name: 'Stop' }).click();

      await answer.getByText('Stopped — the token was spent').waitFor();
      await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden' });
      await expectBalance(page, 2);
      const partial = (await answer.locator('.message-text').textContent()).trim();
      assert.match(partial, /^\[askgate demo upstream\] You asked/);
      assert.doesNotMatch(partial, /for real answers\.$/, 'the answer was cut short');
      await screenshot(page, 'chat-stopped');

      // The server stores what was sent once it sees the connection close.
      let conversationId;
      let stored;
      for (let i = 0; i < 100 && !stored; i++) {
        conversationId = (await api('/api/conversations', { token })).body.items[0]?.id;
        if (conversationId) {
          const { body } = await api(`/api/conversations/${conversationId}`, { token });
          stored = body.messages.find((m) => m.author === 'assistant' && m.interrupted);
        }
        if (!stored) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(stored, 'the partial answer is stored, marked interrupted');
      assert.ok(partial.startsWith(stored.content.trim().slice(0, 40)), 'the stored text is the text shown');

      await page.reload();
      await expectBalance(page, 2);
      const item = page.locator(`.conversations li[data-id="${conversationId}"]`);
      await item.getByText('Interrupted').waitFor();
      await item.locator('.conversation-open').click();
      const reopened = page.locator('.message.assistant').last();
      await reopened.locator('.marker').getByText('Interrupted').waitFor();
      assert.equal((await reopened.locator('.message-text').textContent()).trim(), stored.content.trim());
      await screenshot(page, 'chat-interrupted');
    });
  });

  test('an AskDocs answer lists its sources, linking only http and https ones', async () => {
    const displayName = await fakeAskDocsDomain();
    const email = uniqueEmail('sources');
    await devLogin(email);
    await grantTokens(email, 1);
    await withPage('sources', {}, async (page) => {
      await signIn(page, { email });
      await chooseDomain(page, displayName);
      await ask(page, 'How much leave do I get?');

      const answer = await answered(page, 'Leave is 25 days a year.');
      const sources = answer.locator('.sources');
      await sources.getByText('Sources').waitFor();
      assert.deepEqual(
        (await sources.locator('li').allTextContents()).map((t) => t.trim()),
        ['Staff handbook', 'Leave policy', 'Team wiki page'],
      );
      const handbook = sources.getByRole('link', { name: 'Staff handbook' });
      assert.equal(await handbook.getAttribute('href'), 'https://intranet.example.com/handbook');
      assert.equal(await handbook.getAttribute('target'), '_blank');
      assert.equal(await handbook.getAttribute('rel'), 'noopener noreferrer');
      // A javascript: target is only its title, and a source without a link is text.
      assert.equal(await sources.locator('a').count(), 1);
      await sources.getByText('Leave policy').click();
      assert.equal(await page.evaluate(() => window.pwned), undefined);
      await expectBalance(page, 0);
      await screenshot(page, 'chat-sources');
    });
  });

  test('an answer the AI service breaks off keeps the part shown, marked interrupted, and gives the token back', async () => {
    const displayName = await fakeAskDocsDomain();
    const email = uniqueEmail('broken');
    await devLogin(email);
    await grantTokens(email, 2);
    await withPage('broken-off', {}, async (page) => {
      await signIn(page, { email });
      await expectBalance(page, 2);
      await chooseDomain(page, displayName);
      await ask(page, 'Please break off');

      const answer = page.locator('.message.assistant').last();
      await answer.getByText('Your token was given back.').waitFor();
      await answer.locator('.marker').getByText('Interrupted').waitFor();
      assert.match(await answer.locator('.message-text').textContent(), /^From the documents:/);
      await answer.getByText('The part shown is kept in the conversation.').waitFor();
      await expectBalance(page, 2);
      await screenshot(page, 'chat-broken-off');
    });
  });

  test('a domain an admin creates can be asked about by a user, and one restricted to a role only by its holders', async () => {
    const slug = `hr-${Math.random().toString(36).slice(2, 8)}`;
    const displayName = `HR policies ${slug.slice(3)}`;
    const restrictedSlug = `finance-${slug.slice(3)}`;
    const restrictedName = `Finance ${slug.slice(3)}`;

    await withPage('admin-domains', {}, async (page) => {
      await signIn(page, { email: uniqueEmail('admin'), name: 'Grace Admin', admin: true });
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Domains' }).click();
      await page.waitForURL(/\/admin\/domains$/);
      await page.getByRole('button', { name: 'Add a domain' }).click();
      await page.getByLabel('Name', { exact: true }).fill(slug);
      await page.getByLabel('Display name').fill(displayName);
      await page.getByLabel('Description').fill('Leave, travel and expenses.');
      await page.getByLabel('Kind').selectOption('builtin');
      await page.getByLabel('Configuration (JSON object)').fill('{"top_k": 3');
      await page.getByRole('button', { name: 'Create domain' }).click();
      await page.getByText('This is not valid JSON').waitFor();
      await page.getByLabel('Configuration (JSON object)').fill('{"top_k": 3}');
      await page.getByRole('button', { name: 'Create domain' }).click();
      const row = page.locator(`tr[data-name="${slug}"]`);
      await row.getByText('Active').waitFor();

      await page.getByRole('button', { name: 'Add a domain' }).click();
      await page.getByLabel('Name', { exact: true }).fill(restrictedSlug);
      await page.getByLabel('Display name').fill(restrictedName);
      await page.getByLabel('Kind').selectOption('builtin');
      await page.getByLabel('Allowed roles or groups').fill('Finance.Reader two words');
      await page.getByRole('button', { name: 'Create domain' }).click();
      await page.locator(`tr[data-name="${restrictedSlug}"]`).getByText('Finance.Reader, two, words').waitFor();
      await page.getByRole('button', { name: `Edit ${restrictedName}` }).click();
      await page.getByLabel('Allowed roles or groups').fill('Finance.Reader');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.locator(`tr[data-name="${restrictedSlug}"]`).getByText('Finance.Reader', { exact: true }).waitFor();
      await row.getByText('Everyone').waitFor();
      await screenshot(page, 'admin-domains');
    });

    const email = uniqueEmail('reader');
    await devLogin(email);
    await grantTokens(email, 3);
    await withPage('askdocs', {}, async (page) => {
      await signIn(page, { email });
      await expectBalance(page, 3);
      await page.getByLabel('Service').selectOption('askdocs');
      const domain = page.getByLabel('Domain');
      await domain.locator('option', { hasText: displayName }).waitFor({ state: 'attached' });
      assert.equal(await domain.locator('option', { hasText: restrictedName }).count(), 0, 'a restricted domain is not offered');
      await domain.selectOption({ label: displayName });
      await ask(page, 'How many days of leave do I get?');
      const answer = await answered(page);
      await answer.getByText(`AskDocs · ${slug}`).waitFor();
      assert.equal((await answer.locator('.message-author').textContent()).trim(), `AskDocs · ${displayName}`);
      await expectBalance(page, 2);
      const chat = await screenshot(page, 'chat-askdocs');
      await publishScreenshot(chat, 'docs/screenshots/chat.png');
    });
  });

  test('deleting a conversation or a domain asks first, and Cancel keeps it', async () => {
    const email = uniqueEmail('tidy');
    await devLogin(email);
    await grantTokens(email, 1);
    await withPage('confirm-conversation', {}, async (page) => {
      await signIn(page, { email });
      await ask(page, 'A question worth deleting');
      await answered(page);
      const item = page.locator('.conversations li[data-id]');
      await item.first().waitFor();
      const remove = item.first().getByRole('button', { name: /^Delete conversation:/ });

      await remove.click();
      const dialog = page.getByRole('dialog', { name: 'Delete this conversation?' });
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await item.count(), 1, 'Cancel keeps the conversation');

      await remove.click();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      assert.equal(await item.count(), 1, 'Escape keeps the conversation');

      await remove.click();
      await dialog.getByRole('button', { name: 'Delete conversation' }).click();
      await page.getByText('No conversations yet.').waitFor();
      const listed = await api('/api/conversations', { token: (await devLogin(email)).session_token });
      assert.equal(listed.body.items.length, 0, 'the conversation is gone from the API too');
    });

    const admin = uniqueEmail('admin');
    const { session_token: token } = await devLogin(admin, true);
    const slug = `tmp-${Math.random().toString(36).slice(2, 8)}`;
    const created = await api('/api/domains', {
      method: 'POST',
      token,
      body: { name: slug, display_name: `Temporary ${slug}`, configuration: { kind: 'builtin' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await withPage('confirm-domain', {}, async (page) => {
      await signIn(page, { email: admin, admin: true });
      await page.goto(new URL('/admin/domains', page.url()).href);
      const row = page.locator(`tr[data-name="${slug}"]`);
      await row.waitFor();
      await row.getByRole('button', { name: `Delete Temporary ${slug}` }).click();
      const dialog = page.getByRole('dialog', { name: `Delete Temporary ${slug}?` });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'detached' });
      await row.waitFor();

      await row.getByRole('button', { name: `Delete Temporary ${slug}` }).click();
      await dialog.getByRole('button', { name: 'Delete domain' }).click();
      await page.getByText(`Deleted Temporary ${slug}.`).waitFor();
      assert.equal(await row.count(), 0);
    });
  });

  test('a non-admin sees no domain admin link and the admin page refuses them', async () => {
    const allow = [{ status: 403, path: '/api/domains' }];
    await withPage('not-admin', { allow }, async (page) => {
      // Typing the address while signed out: sign in first, then the page asks the API, which refuses.
      await page.goto('/admin/domains');
      await page.waitForURL(/\/signin\?return_to=%2Fadmin%2Fdomains$/);
      await signInWithForm(page, { email: uniqueEmail('user'), name: 'Una User' });
      await page.waitForURL(/\/admin\/domains$/);
      await page.getByText('You are not allowed to manage domains.').waitFor();
      await screenshot(page, 'admin-domains-refused');

      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Profile' }).click();
      await page.waitForURL(/\/profile$/);
      await page.getByText('Una User').waitFor();
      await page.getByText('User', { exact: true }).waitFor();
      assert.equal(await nav.getByRole('link', { name: 'Domains' }).count(), 0);
      assert.equal(await nav.getByRole('link').count(), 5);
      await screenshot(page, 'profile');
    });
  });

  test('an admin finds a user, grants tokens with a reason, and the user sees them', async () => {
    const email = uniqueEmail('granted');
    await devLogin(email);
    await withPage('admin-users', {}, async (page) => {
      await signIn(page, { email: uniqueEmail('admin'), name: 'Grace Admin', admin: true });
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Users' }).click();
      await page.waitForURL(/\/admin\/users$/);
      await page.getByLabel('Search users').fill(email);
      await page.getByRole('button', { name: 'Search' }).click();
      await page.locator(`tr[data-email="${email}"]`).getByRole('button', { name: email }).click();
      await page.getByLabel('Tokens').fill('25');
      await page.getByLabel('Reason (required, shown in the audit log)').fill('Welcome to the pilot');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('#user-balance').getByText('25 tokens').waitFor();
      await page.locator('#user-ledger').getByText('Welcome to the pilot').waitFor();
      const users = await screenshot(page, 'admin-users');
      await publishScreenshot(users, 'docs/screenshots/admin-users.png');

      await nav.getByRole('link', { name: 'Audit' }).click();
      await page.waitForURL(/\/admin\/audit$/);
      await page.locator('#audit-table').getByText('Welcome to the pilot').waitFor();
      const audit = await screenshot(page, 'admin-audit');
      await publishScreenshot(audit, 'docs/screenshots/admin-audit.png');
    });
    await withPage('granted-user', {}, async (page) => {
      await signIn(page, { email });
      await expectBalance(page, 25);
    });
  });

  test('a non-admin sees no admin links and every admin page refuses them', async () => {
    const allow = [
      { status: 403, path: '/api/admin/users' },
      { status: 403, path: '/api/admin/audit' },
      { status: 403, path: '/api/admin/overview' },
      { status: 403, path: '/api/admin/apps' },
    ];
    await withPage('not-admin-pages', { allow }, async (page) => {
      const email = uniqueEmail('user');
      await signIn(page, { email });
      const nav = page.getByRole('navigation', { name: 'Main' });
      assert.equal(await nav.getByRole('link', { name: 'Users' }).count(), 0);
      assert.equal(await nav.getByRole('link', { name: 'Audit' }).count(), 0);
      assert.equal(await nav.getByRole('link', { name: 'Overview' }).count(), 0);
      assert.equal(await nav.getByRole('link', { name: 'Apps' }).count(), 0);
      await page.goto(new URL('/admin/users', page.url()).href);
      await page.getByText('You are not allowed to manage users.').waitFor();
      await page.goto(new URL('/admin/audit', page.url()).href);
      await page.getByText('You are not allowed to read the audit log.').waitFor();
      await page.goto(new URL('/admin/overview', page.url()).href);
      await page.getByText('You are not allowed to see the overview.').waitFor();
      await page.goto(new URL('/admin/apps', page.url()).href);
      await page.getByText('Only administrators can manage apps.').waitFor();
      const { session_token: token } = await devLogin(email);
      for (const path of [
        '/api/admin/users',
        '/api/admin/audit',
        '/api/admin/overview',
        '/api/admin/transactions.csv',
        '/api/admin/apps',
      ]) {
        const res = await api(path, { token });
        assert.equal(res.status, 403, path);
      }
    });
  });

  test('usage history lists the purchase and the consumption', async () => {
    const email = uniqueEmail('history');
    const { session_token: token } = await devLogin(email);
    const checkout = await api('/api/checkout-session', { method: 'POST', body: { package: '100' }, token });
    assert.equal(checkout.status, 200, JSON.stringify(checkout.body));
    await deliverCheckoutCompleted(await checkoutSession(checkout.body.id));
    const chat = await api('/api/askatt/chat', { method: 'POST', body: { message: 'Hello?' }, token });
    assert.equal(chat.status, 200, JSON.stringify(chat.body));

    await withPage('usage', {}, async (page) => {
      await signIn(page, { email });
      await expectBalance(page, 99);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).click();
      await page.waitForURL(/\/usage$/);
      const purchase = page.locator('tr[data-type="purchase"]');
      const consumption = page.locator('tr[data-type="consumption"]');
      await purchase.waitFor();
      await consumption.waitFor();
      assert.deepEqual(await cells(purchase), ['Purchase', '+100', '—', '100']);
      assert.deepEqual(await cells(consumption), ['Chat answer', '-1', 'AskAT&T', '99']);
      await screenshot(page, 'usage');
    });
  });

  test('two tabs that restore the session at the same moment both stay signed in', async () => {
    await withPage('two-tabs', {}, async (first) => {
      await signIn(first, { email: uniqueEmail('tabs') });
      const second = await first.context().newPage();
      try {
        await second.goto('/chat');
        await expectBalance(second, 0);

        // The first tab's refresh is answered slowly, so the second tab's
        // starts while the first tab's new cookie is still on its way.
        let sent;
        const firstSent = new Promise((resolve) => {
          sent = resolve;
        });
        await first.route(
          '**/api/auth/refresh',
          async (route) => {
            sent();
            const response = await route.fetch();
            await new Promise((resolve) => setTimeout(resolve, 700));
            await route.fulfill({ response });
          },
          { times: 1 },
        );
        const reloads = [first.reload()];
        await firstSent;
        reloads.push(second.reload());
        await Promise.all(reloads);

        for (const tab of [first, second]) {
          await tab.waitForURL(/\/chat$/);
          await expectBalance(tab, 0);
        }
        // The session survived both: loading again still signs in.
        for (const tab of [first, second]) {
          await tab.reload();
          await tab.waitForURL(/\/chat$/);
          await expectBalance(tab, 0);
        }
      } finally {
        await second.close();
      }
    });
  });
});

/** Creates a domain answered by the fake AskDocs (fake-askdocs.mjs); resolves to its display name. */
async function fakeAskDocsDomain() {
  const { session_token: admin } = await devLogin(uniqueEmail('docs-admin'), true);
  const slug = `kb-${Math.random().toString(36).slice(2, 8)}`;
  const displayName = `Knowledge ${slug}`;
  const created = await api('/api/domains', {
    method: 'POST',
    token: admin,
    body: { name: slug, display_name: displayName, api_endpoint: `${ASKDOCS_URL}/chat`, configuration: {} },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return displayName;
}

async function chooseDomain(page, displayName) {
  await page.getByLabel('Service').selectOption('askdocs');
  const domain = page.getByLabel('Domain');
  await domain.locator('option', { hasText: displayName }).waitFor({ state: 'attached' });
  await domain.selectOption({ label: displayName });
}

/** A usage row's cells after the date. */
async function cells(row) {
  const texts = await row.locator('td').allTextContents();
  return texts.slice(1).map((t) => t.trim());
}
