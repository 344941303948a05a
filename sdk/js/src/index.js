// askgate in the browser: sign a person in with askgate (a popup), show their
// balance, stream answers, start a purchase through your backend.
//
//   import { Askgate } from '@askgate/sdk';
//   const askgate = new Askgate({ url: 'https://askgate.example.com', clientId: 'app_…' });
//   const { user } = await askgate.signIn();
//   console.log(await askgate.balance());
//   for await (const piece of askgate.chat('What is askgate?')) output.append(piece.text ?? '');

import { AskgateError, baseUrl, readJson } from './problem.js';
import { readEvents } from './sse.js';

export { AskgateError } from './problem.js';

const SIGNED_IN = 'askgate:signed-in';
const CANCELLED = 'askgate:cancelled';

export class Askgate {
  #url;
  #clientId;
  #fetch;
  #token = null;
  #user = null;
  #balance = null;
  #listeners = new Map();

  /**
   * `url`: askgate's address. `clientId`: your app's id, as registered by an
   * askgate admin (its allowed origins must include this page's origin).
   * `backend`: where your server's routes live (default: this origin), for `buy`.
   */
  constructor({ url, clientId, backend, fetch: fetchImpl } = {}) {
    if (!url) throw new TypeError('url is required');
    if (!clientId) throw new TypeError('clientId is required');
    this.#url = baseUrl(url);
    this.#clientId = clientId;
    this.backend = backend ?? '';
    this.#fetch = fetchImpl ?? globalThis.fetch.bind(globalThis);
  }

  /** The person signed in, or null. */
  get user() {
    return this.#user;
  }

  /** Their askgate session token (for your backend to spend with), or null. */
  get token() {
    return this.#token;
  }

  /** `on('balance', n => …)`, `on('signin', user => …)`, `on('signout', () => …)`. Returns a function that stops listening. */
  on(event, fn) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(fn);
    return () => this.#listeners.get(event)?.delete(fn);
  }

  #emit(event, value) {
    for (const fn of this.#listeners.get(event) ?? []) fn(value);
  }

  #setBalance(tokens) {
    if (typeof tokens !== 'number' || tokens === this.#balance) return;
    this.#balance = tokens;
    this.#emit('balance', tokens);
  }

  /**
   * Opens askgate's sign-in in a popup (call it from a click). askgate sends
   * the result only to this page's origin, and only when it is one your app
   * registered; this page accepts it only from askgate's origin and from
   * that popup. Resolves to `{ user, token, expiresIn }`.
   */
  signIn({ window: win = globalThis.window } = {}) {
    const origin = win.location.origin;
    const url = `${this.#url}/connect?client_id=${encodeURIComponent(this.#clientId)}&origin=${encodeURIComponent(origin)}`;
    const popup = win.open(url, 'askgate-sign-in', 'popup,width=480,height=640');
    if (!popup) return Promise.reject(new Error('the sign-in window was blocked: call signIn() from a click'));
    return new Promise((resolve, reject) => {
      const closed = setInterval(() => {
        if (popup.closed) finish(() => reject(new Error('the sign-in window was closed')));
      }, 500);
      const onMessage = (event) => {
        if (event.origin !== this.#url || event.source !== popup) return;
        const data = event.data;
        if (data?.type === CANCELLED) {
          finish(() => reject(new Error('the sign-in was cancelled')));
        } else if (data?.type === SIGNED_IN && typeof data.session_token === 'string') {
          finish(() => resolve(this.#signedIn(data)));
        }
      };
      const finish = (then) => {
        clearInterval(closed);
        win.removeEventListener('message', onMessage);
        if (!popup.closed) popup.close();
        then();
      };
      win.addEventListener('message', onMessage);
    });
  }

  /**
   * Signs in by sending this whole window to askgate, where no popup is
   * possible or wanted; askgate sends it back to `returnUrl` (one of your
   * app's registered return URLs), where `completeSignIn()` picks the
   * session up.
   */
  signInWithRedirect(returnUrl, { window: win = globalThis.window } = {}) {
    const url = `${this.#url}/connect?client_id=${encodeURIComponent(this.#clientId)}&return_url=${encodeURIComponent(returnUrl)}`;
    win.location.assign(url);
  }

  /**
   * On the page askgate sent the window back to: takes the session from the
   * address's fragment (which never reaches a server) and removes it from
   * the address and the history. Resolves to `{ user, token, expiresIn }`,
   * or null when the address carries none.
   */
  completeSignIn({ window: win = globalThis.window } = {}) {
    const fragment = new URLSearchParams(win.location.hash.replace(/^#/, ''));
    const raw = fragment.get('askgate_session');
    if (!raw) return null;
    win.history.replaceState(null, '', win.location.pathname + win.location.search);
    const session = JSON.parse(raw);
    if (typeof session?.session_token !== 'string') return null;
    return this.#signedIn(session);
  }

  /** Holds the session askgate handed over (`{session_token, expires_in, user}`). */
  #signedIn(session) {
    this.#token = session.session_token;
    this.#user = session.user;
    this.#emit('signin', session.user);
    this.#setBalance(session.user?.tokens);
    return { user: session.user, token: session.session_token, expiresIn: session.expires_in };
  }

  #requireToken() {
    if (!this.#token) throw new AskgateError(401, { code: 'unauthenticated', detail: 'Not signed in: call signIn() first.' });
  }

  /** Forgets the sign-in here (askgate's own session in its window stays). */
  signOut() {
    const wasSignedIn = this.#token !== null;
    this.#token = null;
    this.#user = null;
    this.#balance = null;
    if (wasSignedIn) this.#emit('signout');
  }

  async #call(path, { method = 'GET', body, accept = 'application/json', signal, idempotencyKey } = {}) {
    this.#requireToken();
    const headers = { Accept: accept, Authorization: `Bearer ${this.#token}` };
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await this.#fetch(`${this.#url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (res.status === 401) {
      // The session ended (expired, revoked, or the account was disabled).
      this.signOut();
    }
    return res;
  }

  /** The balance in tokens. */
  async balance() {
    const { tokens } = await readJson(await this.#call('/api/user/tokens'));
    this.#setBalance(tokens);
    return tokens;
  }

  /**
   * Asks a question (one token) and yields the answer as it is written:
   * `{event: 'start'|'delta'|'sources'|'done'|'error', data}`, where
   * `delta`'s `data.text` is the next piece. `service`: `askatt` (default)
   * or `askdocs` with `domainId`. Breaking out of the loop stops the answer.
   */
  async *chat(message, { service = 'askatt', domainId, conversationId, idempotencyKey, signal } = {}) {
    const body = { message };
    if (domainId) body.domain_id = domainId;
    if (conversationId) body.conversation_id = conversationId;
    const res = await this.#call(`/api/${service}/chat`, { method: 'POST', body, accept: 'text/event-stream', signal, idempotencyKey });
    if (!res.ok) await readJson(res);
    for await (const event of readEvents(res)) {
      if (typeof event.data.tokens_remaining === 'number') this.#setBalance(event.data.tokens_remaining);
      yield { ...event, text: event.event === 'delta' ? event.data.text : undefined };
    }
  }

  /**
   * Starts a purchase of `pkg` (`'100'`, `'250'`, `'600'`): asks your backend
   * (`POST {backend}/askgate/checkout`, which calls `checkout()` of
   * `@askgate/sdk/server` with your app's credentials) and sends this window
   * to the Stripe page it answers. The person comes back to your return URL.
   */
  async buy(pkg, { navigate = (url) => globalThis.location.assign(url) } = {}) {
    this.#requireToken();
    const res = await this.#fetch(`${this.backend}/askgate/checkout`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ package: pkg, token: this.#token }),
    });
    const { url } = await readJson(res);
    navigate(url);
    return url;
  }
}
