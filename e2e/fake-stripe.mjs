// A tiny stand-in for Stripe's API, enough for askgate's checkout:
//   POST /v1/checkout/sessions  -> a Checkout Session shaped like Stripe's (fixtures/),
//                                  whose `url` returns straight to askgate's success page
//                                  (the hosted payment page cannot run here);
//   POST /v1/payment_intents    -> a PaymentIntent shaped like Stripe's (crates/stripe/fixtures),
//                                  for the amount and metadata asked for;
//   GET  /_test/sessions/{id}   -> what askgate asked for, so a test can build the
//                                  webhook Stripe would send.
// Anything else answers Stripe's error shape with 404.
//
//   FAKE_STRIPE_PORT   port to listen on (0: any; the port is printed as "listening <port>")
//   PUBLIC_BASE_URL    askgate's address, for the Checkout `url`

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const template = JSON.parse(readFileSync(new URL('./fixtures/checkout_session.json', import.meta.url), 'utf8'));
const publicBaseUrl = (process.env.PUBLIC_BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const intentTemplate = JSON.parse(readFileSync(new URL('../crates/stripe/fixtures/api/payment_intent.json', import.meta.url), 'utf8'));
const sessions = new Map();
const byIdempotencyKey = new Map();
const intentsByIdempotencyKey = new Map();

/** Parses Stripe's form encoding (`a[b][0][c]=v`) into nested objects. */
export function parseForm(body) {
  const root = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(/\[|\]\[|\]/).filter((p) => p !== '');
    let node = root;
    path.forEach((part, i) => {
      if (i === path.length - 1) node[part] = value;
      else node = node[part] ??= {};
    });
  }
  return root;
}

function amountOf(params) {
  let total = 0;
  for (const item of Object.values(params.line_items || {})) {
    const unit = Number(item.price_data?.unit_amount ?? 0);
    total += unit * Number(item.quantity ?? 1);
  }
  return total;
}

function createSession(params) {
  const id = `cs_test_${randomBytes(24).toString('hex')}`;
  const amount = amountOf(params);
  const currency = Object.values(params.line_items || {})[0]?.price_data?.currency || 'usd';
  const session = {
    ...structuredClone(template),
    id,
    amount_subtotal: amount,
    amount_total: amount,
    currency,
    created: Math.floor(Date.now() / 1000),
    expires_at: Math.floor(Date.now() / 1000) + 86_400,
    client_reference_id: params.client_reference_id ?? null,
    customer_email: params.customer_email ?? null,
    metadata: params.metadata || {},
    success_url: params.success_url,
    cancel_url: params.cancel_url ?? null,
    payment_status: 'unpaid',
    status: 'open',
    url: `${publicBaseUrl}/purchase/success?session_id=${id}`,
  };
  sessions.set(id, session);
  return session;
}

function createIntent(params) {
  const id = `pi_test_${randomBytes(12).toString('hex')}`;
  return {
    ...structuredClone(intentTemplate),
    id,
    amount: Number(params.amount ?? 0),
    currency: params.currency || 'usd',
    client_secret: `${id}_secret_${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    metadata: params.metadata || {},
    status: 'requires_payment_method',
  };
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Request-Id': `req_${randomBytes(8).toString('hex')}` });
  res.end(text);
}

function notFound(res, what) {
  send(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${what}).` } });
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
      const key = req.headers['idempotency-key'];
      if (key && byIdempotencyKey.has(key)) return send(res, 200, sessions.get(byIdempotencyKey.get(key)));
      const session = createSession(parseForm(body));
      if (key) byIdempotencyKey.set(key, session.id);
      return send(res, 200, session);
    }
    if (req.method === 'POST' && url.pathname === '/v1/payment_intents') {
      const key = req.headers['idempotency-key'];
      if (key && intentsByIdempotencyKey.has(key)) return send(res, 200, intentsByIdempotencyKey.get(key));
      const intent = createIntent(parseForm(body));
      if (key) intentsByIdempotencyKey.set(key, intent);
      return send(res, 200, intent);
    }
    const match = url.pathname.match(/^\/_test\/sessions\/([\w-]+)$/);
    if (req.method === 'GET' && match) {
      const session = sessions.get(match[1]);
      return session ? send(res, 200, session) : notFound(res, url.pathname);
    }
    console.error(`fake-stripe: no answer for ${req.method} ${url.pathname}`);
    return notFound(res, `${req.method} ${url.pathname}`);
  });
});

server.listen(Number(process.env.FAKE_STRIPE_PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
