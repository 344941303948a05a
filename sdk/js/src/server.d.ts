// Types of the server SDK (Node 20+).

import type { AppRefund, CheckoutCreated, Consumption, Introspection, Problem } from './openapi.js';

export type * from './openapi.js';

export const USER_TOKEN_HEADER: 'X-Askgate-User-Token';

export class AskgateError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Problem | null;
}

export interface AskgateAppOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  fetch?: typeof fetch;
}

export class AskgateApp {
  constructor(options: AskgateAppOptions);
  introspect(token: string): Promise<Introspection>;
  balance(token: string): Promise<number>;
  consume(request: { token: string; amount: number; reason: string; idempotencyKey: string }): Promise<Consumption>;
  refund(id: string): Promise<AppRefund>;
  checkout(request: { token: string; package: string; returnUrl: string }): Promise<CheckoutCreated>;
}
