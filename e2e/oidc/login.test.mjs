// askgate signing people in against a real OpenID provider standing in for
// Azure AD: the real binary, a fresh database, no browser. The script plays
// the browser: it follows redirects, keeps cookies, and fills in the
// provider's login and consent pages.
//
//   ASKGATE_BIN        the server binary (default $CARGO_TARGET_DIR/debug/askgate-server)
//   TEST_DATABASE_URL  PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
//   E2E_OIDC_DB, E2E_OIDC_PIDFILE  set by run.sh, which cleans up after an interrupted run

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CLIENT_ID, CLIENT_SECRET, PEOPLE, setDeviceCodeTtl, startProvider, TENANT } from './provider.mjs';

// Where cargo builds: CARGO_TARGET_DIR when set, else the workspace's ./target.
const TARGET = process.env.CARGO_TARGET_DIR || fileURLToPath(new URL('../../target', import.meta.url));
const BIN = process.env.ASKGATE_BIN || `${TARGET}/debug/askgate-server`;
const SERVER_URL = new URL(process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
const DB_NAME = process.env.E2E_OIDC_DB || `askgate_oidc_${randomBytes(6).toString('hex')}`;

let provider;
let askgate;
let base;
let serverLog = '';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntilReady(url, child) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`askgate exited with ${child.exitCode}:\n${serverLog}`);
    }
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`askgate did not become ready:\n${serverLog}`);
}

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  provider = await startProvider({
    redirectUris: [`${base}/api/auth/callback`, `${base}/spa/signed-in`],
  });
  const databaseUrl = new URL(SERVER_URL);
  databaseUrl.pathname = `/${DB_NAME}`;
  askgate = spawn(BIN, ['serve'], {
    env: {
      PATH: process.env.PATH,
      APP_ENV: 'development',
      BIND_ADDR: `127.0.0.1:${port}`,
      PUBLIC_BASE_URL: base,
      DATABASE_URL: databaseUrl.href,
      DATABASE_MAX_CONNECTIONS: '4',
      JWT_SECRET: randomBytes(32).toString('hex'),
      AUTH_DEV_LOGIN: 'false',
      AZURE_AD_TENANT_ID: TENANT,
      AZURE_AD_CLIENT_ID: CLIENT_ID,
      AZURE_AD_CLIENT_SECRET: CLIENT_SECRET,
      AZURE_AD_AUTHORITY: provider.issuer,
      RUST_LOG: 'warn,askgate=info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (process.env.E2E_OIDC_PIDFILE) writeFileSync(process.env.E2E_OIDC_PIDFILE, String(askgate.pid));
  askgate.stdout.on('data', (chunk) => {
    serverLog += chunk;
  });
  askgate.stderr.on('data', (chunk) => {
    serverLog += chunk;
  });
  await waitUntilReady(base, askgate);
});

after(async () => {
  if (askgate && askgate.exitCode === null) {
    askgate.kill('SIGTERM');
    await new Promise((resolve) => askgate.once('exit', resolve));
  }
  await provider?.close();
  const admin = new URL(SERVER_URL);
  spawnSync('psql', [admin.href, '-q', '-c', `DROP DATABASE IF EXISTS "${DB_NAME}" WITH (FORCE)`], {
    stdio: 'ignore',
  });
});

/** A browser without a screen: a cookie jar per origin, redirects followed by hand. */
class Browser {
  constructor() {
    this.jars = new Map();
  }

  jar(url) {
    const { origin } = new URL(url);
    if (!this.jars.has(origin)) this.jars.set(origin, new Map());
    return this.jars.get(origin);
  }

  cookie(url, name) {
    return this.jar(url).get(name);
  }

  async request(url, { method = 'GET', form, json, headers = {} } = {}) {
    const jar = this.jar(url);
    const sent = { ...headers };
    if (jar.size) sent.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body;
    if (form) {
      body = new URLSearchParams(form).toString();
      sent['content-type'] = 'application/x-www-form-urlencoded';
    } else if (json) {
      body = JSON.stringify(json);
      sent['content-type'] = 'application/json';
    }
    const res = await fetch(url, { method, headers: sent, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const expired =
        attributes.some((a) => /^max-age=0$/i.test(a)) ||
        attributes.some((a) => /^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now());
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /**
   * GETs `url` and follows redirects, signing in as `login` on the provider's
   * pages and consenting, until a redirect leaves for a URL starting with `stopAt`
   * (resolves to that URL), or, without `stopAt`, until a page that asks
   * nothing more (resolves to its text).
   */
  async signIn(url, login, stopAt) {
    let next = url;
    for (let hop = 0; hop < 20; hop += 1) {
      if (stopAt && next.startsWith(stopAt)) return next;
      const res = await this.request(next);
      if (res.status >= 300 && res.status < 400) {
        next = new URL(res.headers.get('location'), next).href;
        continue;
      }
      const page = await res.text();
      assert.equal(res.status, 200, `unexpected ${res.status} at ${next}: ${page}`);
      if (!stopAt && !page.includes('name="prompt"')) return page;
      const action = page.match(/<form[^>]*action="([^"]+)"/)?.[1];
      const prompt = page.match(/name="prompt" value="([a-z]+)"/)?.[1];
      assert.ok(action && prompt, `no interaction form at ${next}`);
      const form = prompt === 'login' ? { prompt, login, password: 'any' } : { prompt };
      const submitted = await this.request(new URL(action.replaceAll('&amp;', '&'), next).href, {
        method: 'POST',
        form,
      });
      assert.ok(submitted.status >= 300 && submitted.status < 400, `submit ${prompt}: ${submitted.status}`);
      next = new URL(submitted.headers.get('location'), next).href;
    }
    throw new Error('too many redirects');
  }
}

async function me(token) {
  const res = await fetch(`${base}/api/user/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

test('the web UI flow: authorize, provider login and consent, callback, refresh, me', async () => {
  const browser = new Browser();
  const started = await browser.request(`${base}/api/auth/authorize?return_to=/profile`);
  assert.equal(started.status, 302);
  const toProvider = started.headers.get('location');
  assert.ok(toProvider.startsWith(`${provider.issuer}/auth?`), toProvider);
  assert.ok(browser.cookie(base, 'askgate_sign_in'), 'the signed flow cookie');

  const callback = await browser.signIn(toProvider, 'ada', `${base}/api/auth/callback`);
  const back = await browser.request(callback);
  assert.equal(back.status, 302, `callback answered ${back.status}`);
  assert.equal(back.headers.get('location'), '/profile');
  assert.ok(browser.cookie(base, 'askgate_refresh'), 'the refresh cookie');
  assert.equal(browser.cookie(base, 'askgate_sign_in'), undefined);

  const refreshed = await browser.request(`${base}/api/auth/refresh`, { method: 'POST' });
  assert.equal(refreshed.status, 200);
  const signedIn = await refreshed.json();
  assert.equal(signedIn.user.email, PEOPLE.ada.email);
  assert.equal(signedIn.user.role, 'admin', 'the Admin app role');

  const profile = await me(signedIn.session_token);
  assert.equal(profile.status, 200);
  assert.equal(profile.body.display_name, PEOPLE.ada.name);
  assert.equal(profile.body.tokens, 0);

  const out = await fetch(`${base}/api/auth/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${signedIn.session_token}` },
  });
  assert.equal(out.status, 204);
  assert.equal((await me(signedIn.session_token)).status, 401);
});

test('a client that runs the flow itself posts the code to /api/auth/login', async () => {
  const browser = new Browser();
  const verifier = randomBytes(32).toString('base64url');
  const redirectUri = `${base}/spa/signed-in`;
  const state = randomUUID();
  const nonce = randomUUID();
  const authorize = new URL(`${provider.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid profile email',
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();

  const landed = new URL(await browser.signIn(authorize.href, 'bob', redirectUri));
  assert.equal(landed.searchParams.get('state'), state);
  const code = landed.searchParams.get('code');
  assert.ok(code);

  const login = await browser.request(`${base}/api/auth/login`, {
    method: 'POST',
    json: { code, code_verifier: verifier, nonce, redirect_uri: redirectUri },
  });
  assert.equal(login.status, 200);
  const signedIn = await login.json();
  assert.equal(signedIn.user.email, PEOPLE.bob.email);
  assert.equal(signedIn.user.role, 'user');
  assert.equal(signedIn.expires_in, 900);
  assert.ok(browser.cookie(base, 'askgate_refresh'));
  assert.equal((await me(signedIn.session_token)).status, 200);

  // The provider redeems a code once; askgate passes its refusal on as a 401.
  const again = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, code_verifier: verifier, nonce, redirect_uri: redirectUri }),
  });
  assert.equal(again.status, 401);
});

/** Signs bob in at the provider for a client-run flow; the code and what the client kept. */
async function clientFlow() {
  const browser = new Browser();
  const verifier = randomBytes(32).toString('base64url');
  const nonce = randomUUID();
  const redirectUri = `${base}/spa/signed-in`;
  const authorize = new URL(`${provider.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid profile email',
    redirect_uri: redirectUri,
    state: randomUUID(),
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const landed = new URL(await browser.signIn(authorize.href, 'bob', redirectUri));
  return { code: landed.searchParams.get('code'), verifier, nonce, redirectUri };
}

async function postLogin(body) {
  const res = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type'), cookie: res.headers.get('set-cookie'), body: await res.json() };
}

test('a login without the PKCE verifier or the nonce is refused before the code is redeemed', async () => {
  const flow = await clientFlow();
  const { code, verifier, nonce, redirectUri } = flow;
  for (const [body, field] of [
    [{ code, nonce, redirect_uri: redirectUri }, 'code_verifier'],
    [{ code, code_verifier: verifier, redirect_uri: redirectUri }, 'nonce'],
  ]) {
    const refused = await postLogin(body);
    assert.equal(refused.status, 422);
    assert.equal(refused.type, 'application/problem+json');
    assert.equal(refused.body.field, field);
    assert.equal(refused.cookie, null);
  }
  // Nothing above spent the code.
  const ok = await postLogin({ code, code_verifier: verifier, nonce, redirect_uri: redirectUri });
  assert.equal(ok.status, 200);
});

test("a login whose nonce is not the ID token's signs nobody in", async () => {
  const { code, verifier, redirectUri } = await clientFlow();
  const refused = await postLogin({ code, code_verifier: verifier, nonce: randomUUID(), redirect_uri: redirectUri });
  assert.equal(refused.status, 401);
  assert.equal(refused.type, 'application/problem+json');
  assert.equal(refused.cookie, null);
});

test('a code exchanged with the wrong PKCE verifier signs nobody in', async () => {
  const browser = new Browser();
  const verifier = randomBytes(32).toString('base64url');
  const redirectUri = `${base}/spa/signed-in`;
  const authorize = new URL(`${provider.issuer}/auth`);
  authorize.search = new URLSearchParams({
    client_id: CLIENT_ID,
    response_type: 'code',
    scope: 'openid profile email',
    redirect_uri: redirectUri,
    state: randomUUID(),
    nonce: 'wrong-verifier-nonce',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const landed = new URL(await browser.signIn(authorize.href, 'bob', redirectUri));
  const login = await fetch(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      code: landed.searchParams.get('code'),
      code_verifier: randomBytes(32).toString('base64url'),
      nonce: 'wrong-verifier-nonce',
      redirect_uri: redirectUri,
    }),
  });
  assert.equal(login.status, 401);
});

// ---- device-code sign-in (RFC 8628), brokered by askgate -------------------------

async function startDevice() {
  const res = await fetch(`${base}/api/auth/device`, { method: 'POST' });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}

async function pollDevice(started) {
  const res = await fetch(`${base}/api/auth/device/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ device_code: started.device_code }),
  });
  return { status: res.status, body: await res.json() };
}

/** The person at the provider's device page: enters the code, then continues or aborts. */
async function enterUserCode(browser, started, decision) {
  assert.ok(started.verification_uri.startsWith(`${provider.issuer}/device`), started.verification_uri);
  const input = await browser.request(started.verification_uri);
  const inputPage = await input.text();
  assert.equal(input.status, 200, inputPage);
  const action = inputPage.match(/<form id="op.deviceInputForm"[^>]*action="([^"]+)"/)?.[1];
  const xsrf = inputPage.match(/name="xsrf" value="([^"]+)"/)?.[1];
  assert.ok(action && xsrf, 'the code input form');
  const url = new URL(action.replaceAll('&amp;', '&'), started.verification_uri).href;
  const confirm = await browser.request(url, { method: 'POST', form: { xsrf, user_code: started.user_code } });
  const confirmPage = await confirm.text();
  assert.equal(confirm.status, 200, confirmPage);
  const confirmXsrf = confirmPage.match(/name="xsrf" value="([^"]+)"/)?.[1];
  const form = { xsrf: confirmXsrf, user_code: started.user_code };
  if (decision === 'abort') form.abort = 'yes';
  else form.confirm = 'yes';
  return browser.request(url, { method: 'POST', form });
}

test('a device signs in with the code the person enters at the provider', async () => {
  const started = await startDevice();
  assert.ok(started.user_code && started.device_code && started.expires_in > 0);
  assert.equal((await pollDevice(started)).body.code, 'authorization_pending');

  const browser = new Browser();
  const continued = await enterUserCode(browser, started, 'continue');
  assert.ok(continued.status >= 300 && continued.status < 400, `confirm: ${continued.status}`);
  const done = await browser.signIn(new URL(continued.headers.get('location'), started.verification_uri).href, 'bob');
  assert.match(done, /Sign-in Success/);

  // The first poll after the person finished waited a whole interval.
  await new Promise((r) => setTimeout(r, started.interval * 1000 + 200));
  const signedIn = await pollDevice(started);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.equal(signedIn.body.user.email, PEOPLE.bob.email);
  assert.ok(signedIn.body.refresh_token, 'the refresh token in the body');
  const profile = await me(signedIn.body.session_token);
  assert.equal(profile.body.display_name, PEOPLE.bob.name);

  const again = await pollDevice(started);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, 'invalid_grant', 'a device code signs in once');
});

test('a device polling too fast is told to slow down, and a declined one is denied', async () => {
  const started = await startDevice();
  assert.equal((await pollDevice(started)).body.code, 'authorization_pending');
  const tooFast = await pollDevice(started);
  assert.equal(tooFast.status, 400);
  assert.equal(tooFast.body.error, 'slow_down');

  const declined = await startDevice();
  const aborted = await enterUserCode(new Browser(), declined, 'abort');
  assert.ok(aborted.status < 500, `abort: ${aborted.status}`);
  const denied = await pollDevice(declined);
  assert.equal(denied.status, 400, JSON.stringify(denied.body));
  assert.equal(denied.body.error, 'access_denied');
  assert.equal(denied.body.session_token, undefined);
});

test('a device code nobody entered in time expires', async () => {
  setDeviceCodeTtl(1);
  try {
    const started = await startDevice();
    assert.equal(started.expires_in, 1);
    await new Promise((r) => setTimeout(r, 1500));
    const expired = await pollDevice(started);
    assert.equal(expired.status, 400);
    assert.equal(expired.body.error, 'expired_token');
  } finally {
    setDeviceCodeTtl(600);
  }
});
