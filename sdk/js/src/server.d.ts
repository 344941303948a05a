// Types of the server SDK (Node 20+).

import type { Problem } from './openapi.js';

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

export type Introspection =
  | { active: false }
  | { active: true; sub: string; email: string; name?: string | null; exp: number; iat: number; [key: string]: unknown };

export interface Consumption {
  id: string;
  amount: number;
  balance_after: number;
  [key: string]: unknown;
}

export class AskgateApp {
  constructor(options: AskgateAppOptions);
  introspect(token: string): Promise<Introspection>;
  balance(token: string): Promise<number>;
  consume(request: { token: string; amount: number; reason: string; idempotencyKey: string }): Promise<Consumption>;
  refund(id: string): Promise<Record<string, unknown>>;
  checkout(request: { token: string; package: string; returnUrl: string }): Promise<{ id: string; url: string }>;
}
