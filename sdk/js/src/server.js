// askgate on your app's server: check who a person is, read their balance,
// spend and refund their tokens, start a purchase. Every call carries your
// app's credentials (HTTP Basic), which never leave your server.
//
//   import { AskgateApp } from '@askgate/sdk/server';
//   const app = new AskgateApp({ url, clientId, clientSecret });
//   const who = await app.introspect(token);               // { active, sub, email, … }
//   const spent = await app.consume({ token, amount: 1, reason: 'summary', idempotencyKey });
//   await app.refund(spent.id);

import { baseUrl, readJson } from './problem.js';

export { AskgateError } from './problem.js';

/** The header that carries the person's session token (or API key) on app calls. */
export const USER_TOKEN_HEADER = 'X-Askgate-User-Token';

export class AskgateApp {
  #url;
  #authorization;
  #fetch;

  constructor({ url, clientId, clientSecret, fetch: fetchImpl } = {}) {
    if (!url) throw new TypeError('url is required');
    if (!clientId || !clientSecret) throw new TypeError('clientId and clientSecret are required');
    this.#url = baseUrl(url);
    this.#authorization = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
    this.#fetch = fetchImpl ?? globalThis.fetch.bind(globalThis);
  }

  async #post(path, body, token) {
    const headers = { Authorization: this.#authorization, Accept: 'application/json', 'Content-Type': 'application/json' };
    if (token) headers[USER_TOKEN_HEADER] = token;
    return readJson(await this.#fetch(`${this.#url}${path}`, { method: 'POST', headers, body: JSON.stringify(body ?? {}) }));
  }

  /**
   * Whether `token` is an active askgate session token, and whose (RFC 7662):
   * `{ active: false }`, or `{ active: true, sub, email, name, exp, iat }`.
   */
  introspect(token) {
    return this.#post('/api/v1/token/introspect', { token });
  }

  /** The person's balance, by their session token (or API key). */
  async balance(token) {
    const res = await this.#fetch(`${this.#url}/api/v1/balance`, {
      headers: { Authorization: this.#authorization, Accept: 'application/json', [USER_TOKEN_HEADER]: token },
    });
    return (await readJson(res)).tokens;
  }

  /**
   * Spends `amount` (1–100) of the person's tokens for `reason`. The same
   * `idempotencyKey` answers the first result again and spends nothing more:
   * retry freely. 402 when they have too few; 429 `daily_limit_exceeded`
   * past your app's daily limit.
   */
  consume({ token, amount, reason, idempotencyKey }) {
    return this.#post('/api/v1/credits/consume', { amount, reason, idempotency_key: idempotencyKey }, token);
  }

  /** Gives back a consumption of yours, once, within 24 hours. */
  refund(id) {
    return this.#post(`/api/v1/credits/${encodeURIComponent(id)}/refund`, {});
  }

  /**
   * A Stripe Checkout page for the person to buy `pkg` (`'100'`, `'250'`,
   * `'600'`); afterwards Stripe sends them to `returnUrl`, which must be one
   * of your app's registered return URLs. Resolves to `{ id, url }`.
   */
  checkout({ token, package: pkg, returnUrl }) {
    return this.#post('/api/v1/checkout', { package: pkg, return_url: returnUrl }, token);
  }
}
