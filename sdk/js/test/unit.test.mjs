// The SDK without a server: what it sends, what it accepts, what it refuses.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Askgate, AskgateError } from '../src/index.js';
import { AskgateApp, USER_TOKEN_HEADER } from '../src/server.js';
import { EventParser } from '../src/sse.js';

const ASKGATE = 'https://askgate.example.com';

/** A fetch that records calls and answers from `answers` in order. */
function fakeFetch(...answers) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, ...init, headers: init.headers ?? {} });
    const next = answers.shift();
    if (typeof next === 'function') return next();
    return new Response(JSON.stringify(next.body), { status: next.status ?? 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, calls };
}

/** A window whose popup and message events the test controls. */
function fakeWindow() {
  const listeners = new Set();
  const popup = {
    closed: false,
    close() {
      this.closed = true;
    },
  };
  const win = {
    location: { origin: 'https://app.example.com' },
    opened: null,
    open(url) {
      this.opened = url;
      return popup;
    },
    addEventListener: (_type, fn) => listeners.add(fn),
    removeEventListener: (_type, fn) => listeners.delete(fn),
    send: (event) => {
      for (const fn of [...listeners]) fn(event);
    },
  };
  return { win, popup, listeners };
}

const signedIn = {
  type: 'askgate:signed-in',
  session_token: 'session-token',
  expires_in: 900,
  user: { id: 'u1', email: 'ann@example.com', tokens: 7, role: 'user' },
};

describe('browser', () => {
  test('signIn opens askgate for this origin and accepts only askgate, from its popup', async () => {
    const askgate = new Askgate({ url: `${ASKGATE}/`, clientId: 'app_1', fetch: fakeFetch().fetch });
    const balances = [];
    askgate.on('balance', (n) => balances.push(n));
    const { win, popup, listeners } = fakeWindow();
    const result = askgate.signIn({ window: win });
    assert.equal(win.opened, `${ASKGATE}/connect?client_id=app_1&origin=${encodeURIComponent('https://app.example.com')}`);

    // Another origin, or another window of askgate's origin, is ignored.
    win.send({ origin: 'https://evil.example.com', source: popup, data: signedIn });
    win.send({ origin: ASKGATE, source: {}, data: signedIn });
    assert.equal(askgate.token, null);
    win.send({ origin: ASKGATE, source: popup, data: signedIn });
    const { user, token } = await result;
    assert.equal(user.email, 'ann@example.com');
    assert.equal(token, 'session-token');
    assert.equal(askgate.token, 'session-token');
    assert.deepEqual(balances, [7]);
    assert.equal(listeners.size, 0, 'stops listening');
    assert.ok(popup.closed);
  });

  test('a cancelled sign-in rejects and keeps nobody signed in', async () => {
    const askgate = new Askgate({ url: ASKGATE, clientId: 'app_1', fetch: fakeFetch().fetch });
    const { win, popup } = fakeWindow();
    const result = askgate.signIn({ window: win });
    win.send({ origin: ASKGATE, source: popup, data: { type: 'askgate:cancelled' } });
    await assert.rejects(result, /cancelled/);
    assert.equal(askgate.user, null);
  });

  test('balance is read with the session token; a 401 signs out', async () => {
    const { fetch, calls } = fakeFetch({ body: { tokens: 5 } }, { status: 401, body: { code: 'unauthenticated', detail: 'gone' } });
    const askgate = new Askgate({ url: ASKGATE, clientId: 'app_1', fetch });
    const { win, popup } = fakeWindow();
    const signing = askgate.signIn({ window: win });
    win.send({ origin: ASKGATE, source: popup, data: signedIn });
    await signing;
    let signedOut = 0;
    askgate.on('signout', () => {
      signedOut += 1;
    });
    assert.equal(await askgate.balance(), 5);
    assert.equal(calls[0].url, `${ASKGATE}/api/user/tokens`);
    assert.equal(calls[0].headers.Authorization, 'Bearer session-token');
    const err = await askgate.balance().catch((e) => e);
    assert.ok(err instanceof AskgateError);
    assert.equal(err.code, 'unauthenticated');
    assert.equal(signedOut, 1);
    assert.equal(askgate.token, null);
  });

  test('chat yields the streamed pieces and keeps the balance up to date', async () => {
    const stream = [
      'event: start\ndata: {"conversation_id":"c","tokens_remaining":4,"domain_name":null}\n\n',
      ': heartbeat\n\nevent: delta\ndata: {"text":"Hel',
      'lo"}\n\nevent: done\ndata: {"length":5,"tokens_remaining":4,"finish_reason":"stop"}\n\n',
    ];
    const body = new ReadableStream({
      start(controller) {
        for (const part of stream) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    const { fetch, calls } = fakeFetch(() => new Response(body, { headers: { 'content-type': 'text/event-stream' } }));
    const askgate = new Askgate({ url: ASKGATE, clientId: 'app_1', fetch });
    const { win, popup } = fakeWindow();
    const signing = askgate.signIn({ window: win });
    win.send({ origin: ASKGATE, source: popup, data: signedIn });
    await signing;
    const balances = [];
    askgate.on('balance', (n) => balances.push(n));
    let text = '';
    const events = [];
    for await (const event of askgate.chat('Hi?', { idempotencyKey: 'k1' })) {
      events.push(event.event);
      text += event.text ?? '';
    }
    assert.equal(text, 'Hello');
    assert.deepEqual(events, ['start', 'delta', 'done']);
    assert.deepEqual(balances, [4]);
    assert.equal(calls[0].headers.Accept, 'text/event-stream');
    assert.equal(calls[0].headers['Idempotency-Key'], 'k1');
    assert.deepEqual(JSON.parse(calls[0].body), { message: 'Hi?' });
  });

  test('a refused question is an AskgateError with askgate code', async () => {
    const { fetch } = fakeFetch({ status: 402, body: { code: 'insufficient_tokens', detail: 'Out of tokens', balance: 0 } });
    const askgate = new Askgate({ url: ASKGATE, clientId: 'app_1', fetch });
    const { win, popup } = fakeWindow();
    const signing = askgate.signIn({ window: win });
    win.send({ origin: ASKGATE, source: popup, data: signedIn });
    await signing;
    const iterator = askgate.chat('Hi?');
    await assert.rejects(iterator.next(), (err) => err.status === 402 && err.code === 'insufficient_tokens' && err.problem.balance === 0);
  });

  test('nothing is sent before signing in', async () => {
    const { fetch, calls } = fakeFetch();
    const askgate = new Askgate({ url: ASKGATE, clientId: 'app_1', fetch });
    await assert.rejects(askgate.balance(), (err) => err.status === 401);
    assert.equal(calls.length, 0);
  });
});

describe('server', () => {
  test('app calls carry the app credentials and the person token, never in the URL', async () => {
    const { fetch, calls } = fakeFetch(
      { body: { active: true, sub: 'u1', email: 'ann@example.com', exp: 1, iat: 0 } },
      { body: { id: 't1', amount: -1, balance_after: 6 } },
      { body: { id: 't2' } },
      { body: { tokens: 6 } },
    );
    const app = new AskgateApp({ url: ASKGATE, clientId: 'app_1', clientSecret: 's3cret', fetch });
    const basic = `Basic ${Buffer.from('app_1:s3cret').toString('base64')}`;
    assert.equal((await app.introspect('person-token-7f3a')).email, 'ann@example.com');
    assert.equal(calls[0].url, `${ASKGATE}/api/v1/token/introspect`);
    assert.equal(calls[0].headers.Authorization, basic);
    assert.deepEqual(JSON.parse(calls[0].body), { token: 'person-token-7f3a' });

    const spent = await app.consume({ token: 'person-token-7f3a', amount: 1, reason: 'summary', idempotencyKey: 'k' });
    assert.equal(spent.id, 't1');
    assert.equal(calls[1].headers[USER_TOKEN_HEADER], 'person-token-7f3a');
    assert.deepEqual(JSON.parse(calls[1].body), { amount: 1, reason: 'summary', idempotency_key: 'k' });
    await app.refund('t1');
    assert.equal(calls[2].url, `${ASKGATE}/api/v1/credits/t1/refund`);
    assert.equal(await app.balance('person-token-7f3a'), 6);
    for (const call of calls) assert.ok(!call.url.includes('person-token-7f3a') && !call.url.includes('s3cret'));
  });

  test('a refusal keeps askgate status and code', async () => {
    const { fetch } = fakeFetch({ status: 429, body: { code: 'daily_limit_exceeded', detail: 'Limit reached' } });
    const app = new AskgateApp({ url: ASKGATE, clientId: 'app_1', clientSecret: 's', fetch });
    await assert.rejects(
      app.consume({ token: 't', amount: 1, reason: 'r', idempotencyKey: 'k' }),
      (err) => err.status === 429 && err.code === 'daily_limit_exceeded',
    );
  });
});

test('events split anywhere parse alike', () => {
  const text = 'event: delta\ndata: {"text":"a"}\n\nevent: done\ndata: {"tokens_remaining":1}\n\n';
  const whole = new EventParser().feed(text);
  const parser = new EventParser();
  const pieces = [...text].flatMap((c) => parser.feed(c));
  assert.deepEqual(pieces, whole);
  assert.equal(whole.length, 2);
});

test('a redirect sign-in goes to askgate with the return URL and comes back through the fragment, which is then cleared', () => {
  const askgate = new Askgate({ url: ASKGATE, clientId: 'app_1', fetch: fakeFetch().fetch });
  const visited = [];
  const replaced = [];
  const win = {
    location: {
      assign: (url) => visited.push(url),
      pathname: '/signed-in',
      search: '?x=1',
      hash: `#${new URLSearchParams({ askgate_session: JSON.stringify({ session_token: 's1', expires_in: 900, user: signedIn.user }) })}`,
    },
    history: { replaceState: (_state, _title, url) => replaced.push(url) },
  };
  askgate.signInWithRedirect('https://app.example.com/signed-in', { window: win });
  assert.deepEqual(visited, [`${ASKGATE}/connect?client_id=app_1&return_url=${encodeURIComponent('https://app.example.com/signed-in')}`]);
  const result = askgate.completeSignIn({ window: win });
  assert.equal(result.token, 's1');
  assert.equal(askgate.user.email, 'ann@example.com');
  assert.deepEqual(replaced, ['/signed-in?x=1'], 'the token leaves the address and the history');
  win.location.hash = '';
  assert.equal(new Askgate({ url: ASKGATE, clientId: 'app_1' }).completeSignIn({ window: win }), null);
});
