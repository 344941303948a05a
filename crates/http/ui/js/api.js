// Talking to askgate's API, and the session.
//
// The access token lives in memory only. The refresh token is an HttpOnly
// cookie the page never sees; `POST /api/auth/refresh` turns it into a new
// access token at start-up and shortly before the current one expires. Requests
// carry the token in `Authorization`, never in a cookie, so a page on another
// origin cannot make them on the user's behalf (CSRF).

import { SseParser } from './sse.js';

/** An API error: the problem+json body, flattened. */
export class ApiProblem extends Error {
  constructor(status, body, retryAfter) {
    super(body.detail || body.title || `Request failed (${status})`);
    this.status = status;
    this.code = body.code || null;
    this.detail = body.detail || null;
    this.field = body.field || null;
    this.balance = typeof body.balance === 'number' ? body.balance : null;
    this.purchaseUrl = body.purchase_url || null;
    this.retryAfter = retryAfter;
  }
}

// Set when this browser signed in, so a visitor who never did is not sent
// through a refresh that can only fail. Not a secret: it holds no token.
const SIGNED_IN_HINT = 'askgate.signed-in';
// Refresh this long before the access token expires.
const REFRESH_MARGIN_SECONDS = 60;

const session = { token: null, user: null, timer: null };
const listeners = new Set();
let refreshing = null;
let onExpired = () => {};

/** The signed-in user, or null. */
export function currentUser() {
  return session.user;
}

/** Calls `fn(user)` whenever the user or their balance changes. */
export function onUserChange(fn) {
  listeners.add(fn);
}

/** What to do when the session is gone for good (the router shows sign-in). */
export function onSessionExpired(fn) {
  onExpired = fn;
}

function notify() {
  for (const fn of listeners) fn(session.user);
}

/** Records a new balance (e.g. `tokens_remaining` from a chat answer). */
export function setBalance(tokens) {
  if (session.user && typeof tokens === 'number') {
    session.user = { ...session.user, tokens };
    notify();
  }
}

/** Takes a `{session_token, expires_in, user}` answer as the current session. */
export function startSession(signedIn) {
  session.token = signedIn.session_token;
  session.user = signedIn.user;
  localStorage.setItem(SIGNED_IN_HINT, '1');
  clearTimeout(session.timer);
  const seconds = Math.max(10, Number(signedIn.expires_in || 0) - REFRESH_MARGIN_SECONDS);
  session.timer = setTimeout(() => {
    refresh().catch(() => expire('Your session has ended. Please sign in again.'));
  }, seconds * 1000);
  notify();
}

function endSession() {
  clearTimeout(session.timer);
  session.token = null;
  session.user = null;
  localStorage.removeItem(SIGNED_IN_HINT);
  notify();
}

function expire(message) {
  if (!session.token) return;
  endSession();
  onExpired(message);
}

/** Marks that a sign-in is under way elsewhere (the Microsoft redirect). */
export function expectSignIn() {
  localStorage.setItem(SIGNED_IN_HINT, '1');
}

/**
 * Restores the session from the refresh cookie. Resolves to the user, or null
 * when there is no session to restore.
 */
export async function restoreSession() {
  if (!localStorage.getItem(SIGNED_IN_HINT)) return null;
  try {
    await refresh();
    return session.user;
  } catch {
    endSession();
    return null;
  }
}

/** Exchanges the refresh cookie for a new access token (one at a time). */
function refresh() {
  refreshing ??= oneTabAtATime(() => request('/api/auth/refresh', { method: 'POST', auth: false }))
    .then(startSession)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/**
 * Runs `fn` while no other tab of this site runs a refresh. Tabs share the
 * refresh cookie and each refresh replaces it; a cookie presented after it was
 * replaced looks like a stolen copy and ends the session. Taking turns, each
 * tab sends the cookie the previous refresh set.
 */
function oneTabAtATime(fn) {
  if (!navigator.locks) return fn();
  return navigator.locks.request('askgate-refresh', fn);
}

export async function devLogin(email, displayName, admin) {
  const body = { email, admin };
  if (displayName) body.display_name = displayName;
  startSession(await request('/api/auth/dev-login', { method: 'POST', body, auth: false }));
  return session.user;
}

export async function signOut() {
  try {
    if (session.token) await request('/api/auth/logout', { method: 'POST' });
  } finally {
    endSession();
  }
}

/**
 * Sends a request to the API and resolves to the parsed JSON (or null for an
 * empty answer). Rejects with an ApiProblem for any non-2xx answer; a 401 on a
 * signed-in request also ends the session.
 */
export async function request(path, options = {}) {
  return readJson(await send(path, options));
}

/**
 * Asks a chat question and follows the answer as it streams
 * (`Accept: text/event-stream`). Calls `onEvent({event, data})` for each
 * `start`, `delta`, `sources`, `done` or `error` event, `data` parsed, and
 * resolves to the last one (`done` or `error`). A server that answers with
 * the whole JSON answer instead gives the same events. Keeps the balance
 * shown up to date from the events' `tokens_remaining`.
 *
 * Rejects with an ApiProblem when the question is refused (as `request`
 * does) or the stream ends without `done` or `error`, and with the abort
 * error when `signal` aborts it.
 */
export async function chatStream(path, body, { signal, idempotencyKey, onEvent = () => {} } = {}) {
  const headers = idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {};
  const res = await send(path, { method: 'POST', body, headers, accept: 'text/event-stream', signal });
  const emit = (event, data) => {
    if (typeof data.tokens_remaining === 'number') setBalance(data.tokens_remaining);
    onEvent({ event, data });
    return { event, data };
  };

  if (!(res.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    return wholeAnswerAsEvents((await readJson(res)) || {}, emit);
  }

  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await readChunk(reader, signal);
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const { event, data } of parser.feed(text)) {
        // Stop ends the answer at once, also within a chunk that held several events.
        signal?.throwIfAborted();
        const parsed = parseEventData(data);
        if (!parsed || !STREAM_EVENTS.has(event)) continue;
        const last = emit(event, parsed);
        if (event === 'done' || event === 'error') return last;
      }
      if (done) break;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  throw connectionLost();
}

const STREAM_EVENTS = new Set(['start', 'delta', 'sources', 'done', 'error']);

/** An older server's JSON answer, told as the events a stream would have sent. */
function wholeAnswerAsEvents(answer, emit) {
  const text = typeof answer.response === 'string' ? answer.response : '';
  emit('start', {
    conversation_id: answer.conversation_id ?? null,
    tokens_remaining: answer.tokens_remaining,
    domain_name: answer.domain_name ?? null,
  });
  emit('delta', { text });
  if (Array.isArray(answer.sources) && answer.sources.length) emit('sources', { sources: answer.sources });
  return emit('done', { length: [...text].length, tokens_remaining: answer.tokens_remaining, finish_reason: 'stop' });
}

function connectionLost() {
  return new ApiProblem(0, { code: 'network', detail: 'The connection to askgate was lost before the answer was complete.' }, null);
}

/** The next chunk; a connection lost mid-answer rejects as an ApiProblem. */
async function readChunk(reader, signal) {
  try {
    return await reader.read();
  } catch (err) {
    if (signal?.aborted) throw err;
    throw connectionLost();
  }
}

function parseEventData(data) {
  try {
    const parsed = JSON.parse(data);
    return parsed && typeof parsed === 'object' ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * Sends a request and resolves to the response once it is a 2xx. A 401 on a
 * signed-in request refreshes the access token and tries once more; when that
 * fails too, the session ends. Any other non-2xx rejects with an ApiProblem.
 */
async function send(path, options, retried = false) {
  const { method = 'GET', body, auth = true, headers = {}, accept = 'application/json', signal } = options;
  const init = { method, headers: { Accept: accept, ...headers }, credentials: 'same-origin', signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (auth && session.token) init.headers.Authorization = `Bearer ${session.token}`;

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiProblem(0, { code: 'network', detail: 'askgate could not be reached. Check your connection and try again.' }, null);
  }
  if (res.ok) return res;

  const data = await readJson(res);
  const problem = new ApiProblem(res.status, data && typeof data === 'object' ? data : {}, retryAfter(res));
  if (res.status === 401 && auth && session.token) {
    // The access token may have just expired: refresh once, then try again.
    if (!retried) {
      const refreshed = await refresh().then(
        () => true,
        () => false,
      );
      if (refreshed) return send(path, options, true);
    }
    expire('Your session has ended. Please sign in again.');
  }
  throw problem;
}

/** The response's JSON body, or null when it is empty or not JSON. */
async function readJson(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Seconds to wait from a `Retry-After` header (seconds or an HTTP date). */
function retryAfter(res) {
  const value = res.headers.get('Retry-After');
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

let uiConfig = null;

/** `GET /api/ui-config`, once. */
export async function loadUiConfig() {
  uiConfig ??= request('/api/ui-config', { auth: false }).catch((err) => {
    uiConfig = null;
    throw err;
  });
  return uiConfig;
}

/** A fresh random key for `Idempotency-Key` (a UUID v4; works without HTTPS too). */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
