// Types of the browser SDK. The bodies are askgate's own schemas, generated
// from its OpenAPI document (openapi.d.ts), so they follow the API.

import type { AppSession, DeltaEvent, DoneEvent, ErrorEvent, Problem, SourcesEvent, StartEvent, User } from './openapi.js';

export type * from './openapi.js';

export class AskgateError extends Error {
  readonly status: number;
  /** askgate's stable code, e.g. `insufficient_tokens`, `rate_limited`. */
  readonly code: string;
  readonly problem: Problem | null;
}

export type ChatStreamEvent =
  | { event: 'start'; data: StartEvent; text: undefined }
  | { event: 'delta'; data: DeltaEvent; text: string }
  | { event: 'sources'; data: SourcesEvent; text: undefined }
  | { event: 'done'; data: DoneEvent; text: undefined }
  | { event: 'error'; data: ErrorEvent; text: undefined };

export interface AskgateOptions {
  /** askgate's address, e.g. `https://askgate.example.com`. */
  url: string;
  /** Your app's client id, as an askgate admin registered it. */
  clientId: string;
  /** Where your backend's `/askgate/checkout` route lives (default: this origin). */
  backend?: string;
  fetch?: typeof fetch;
}

/** What `signIn` resolves to: the session askgate handed this app (`AppSession['session']`). */
export interface SignInResult {
  user: User;
  token: AppSession['session']['session_token'];
  expiresIn: number;
}

export interface ChatOptions {
  service?: 'askatt' | 'askdocs';
  domainId?: string;
  conversationId?: string;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export class Askgate {
  constructor(options: AskgateOptions);
  readonly user: User | null;
  readonly token: string | null;
  backend: string;
  on(event: 'balance', fn: (tokens: number) => void): () => void;
  on(event: 'signin', fn: (user: User) => void): () => void;
  on(event: 'signout', fn: () => void): () => void;
  signIn(options?: { window?: Window }): Promise<SignInResult>;
  signInWithRedirect(returnUrl: string, options?: { window?: Window }): void;
  completeSignIn(options?: { window?: Window }): SignInResult | null;
  signOut(): void;
  balance(): Promise<number>;
  chat(message: string, options?: ChatOptions): AsyncGenerator<ChatStreamEvent, void, undefined>;
  buy(pkg: '100' | '250' | '600' | string, options?: { navigate?: (url: string) => void }): Promise<string>;
}
