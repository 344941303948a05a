// What the browser tests share: the browser, pages that fail on console
// errors, screenshots, signing in, talking to the API and the fake Stripe, and
// delivering signed webhooks. `run.sh` sets the environment.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { chromium } from 'playwright-core';
import Stripe from 'stripe';

const here = dirname(fileURLToPath(import.meta.url));

export const BASE_URL = required('ASKGATE_URL');
export const STRIPE_URL = required('FAKE_STRIPE_URL');
export const ASKDOCS_URL = required('FAKE_ASKDOCS_URL');
const WEBHOOK_SECRET = process.env.STRIPE_WEBHOOK_SECRET || 'whsec_test';
const ARTIFACTS = process.env.E2E_ARTIFACTS || join(here, '..', 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests with e2e/run.sh`);
  return value.replace(/\/+$/, '');
}

/** A unique e-mail address per test, so tests never share a user. */
export function uniqueEmail(label) {
  return `e2e-${label}-${randomBytes(4).toString('hex')}@example.com`;
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A fresh browser context and page that records every console error and
 * uncaught page error. `allow` lists the failed API calls a test expects
 * (Chromium logs each non-2xx response as a console error), e.g.
 * `{ status: 402, path: '/api/askatt/chat' }`.
 */
export async function openPage(browser, { allow = [] } = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const status = Number(text.match(/status of (\d{3})/)?.[1]);
    const url = msg.location()?.url || '';
    const path = url ? new URL(url, BASE_URL).pathname : '';
    const expected = allow.some((a) => a.status === status && (a.path instanceof RegExp ? a.path.test(path) : a.path === path));
    if (!expected) errors.push(`console error: ${text}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.checkErrors = () => assert.deepEqual(errors, [], 'the page logged errors');
  return page;
}

/** Saves a full-page screenshot as e2e/artifacts/<name>.png. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Copies an artifact into the repository's docs (the README's picture), when
 * `E2E_PUBLISH_SCREENSHOTS=1`: ordinary runs leave the committed file alone.
 */
export async function publishScreenshot(artifact, target) {
  if (process.env.E2E_PUBLISH_SCREENSHOTS !== '1') return;
  const path = join(here, '..', '..', target);
  await mkdir(dirname(path), { recursive: true });
  await copyFile(artifact, path);
}

/** Signs in through the dev-login form on the sign-in page the page is on. */
export async function signInWithForm(page, { email, name, admin = false }) {
  await page.getByLabel('Email').fill(email);
  if (name) await page.getByLabel('Display name (optional)').fill(name);
  if (admin) await page.getByLabel('Sign in as an administrator').check();
  await page.getByRole('button', { name: 'Sign in (development)' }).click();
}

/** Opens the app and signs in with the dev-login form; lands on the chat. */
export async function signIn(page, user) {
  await page.goto('/');
  await page.waitForURL(/\/signin/);
  await signInWithForm(page, user);
  await page.waitForURL(/\/chat$/);
}

/** The balance shown in the header, once it reads `expected`. */
export async function expectBalance(page, expected) {
  const balance = page.getByTestId('balance');
  await balance.filter({ hasText: new RegExp(`^${expected}$`) }).waitFor();
  assert.equal((await balance.textContent()).trim(), String(expected));
}

/** A JSON call to askgate; with `token`, signed in. Resolves to {status, body}. */
export async function api(path, { method = 'GET', body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${BASE_URL}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Dev login over the API (test setup): {session_token, user}. */
export async function devLogin(email, admin = false) {
  const res = await api('/api/auth/dev-login', { method: 'POST', body: { email, admin } });
  assert.equal(res.status, 200, `dev login failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Credits tokens with the binary's own `grant` command (test setup). */
export async function grantTokens(email, tokens) {
  const bin = required('ASKGATE_BIN');
  await promisify(execFile)(bin, ['grant', '--email', email, '--tokens', String(tokens), '--reason', 'e2e'], {
    env: process.env,
  });
}

/** The Checkout Session askgate created at the fake Stripe. */
export async function checkoutSession(id) {
  const res = await fetch(`${STRIPE_URL}/_test/sessions/${encodeURIComponent(id)}`);
  assert.equal(res.status, 200, `the fake Stripe has no session ${id}`);
  return res.json();
}

const stripe = new Stripe('sk_test_x');

/**
 * Delivers the `checkout.session.completed` event Stripe sends when the
 * session is paid, signed with the webhook secret like Stripe signs it.
 */
export async function deliverCheckoutCompleted(session) {
  const now = Math.floor(Date.now() / 1000);
  const event = {
    id: `evt_${randomBytes(12).toString('hex')}`,
    object: 'event',
    api_version: '2026-09-30.clover',
    created: now,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
    data: {
      object: {
        ...session,
        status: 'complete',
        payment_status: 'paid',
        amount_total: 500,
        currency: 'usd',
        payment_intent: `pi_${randomBytes(12).toString('hex')}`,
        metadata: { user_id: session.metadata.user_id, package: '100', tokens: '100' },
      },
    },
  };
  const payload = JSON.stringify(event);
  const signature = stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
  const res = await fetch(`${BASE_URL}/api/webhook/stripe`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
    body: payload,
  });
  assert.ok(res.status >= 200 && res.status < 300, `webhook refused: ${res.status} ${await res.text()}`);
  return event;
}
