// Delivers a Stripe-signed webhook to a local askgate, as Stripe would after a
// payment: for trying a purchase by hand without Stripe (see stripe-setup.md,
// "A purchase by hand against a local fake").
//
// The signature comes from Stripe's official Node library
// (`stripe.webhooks.generateTestHeaderString`), so askgate verifies it exactly
// as it verifies Stripe's own deliveries.
//
//   node planning/send-test-webhook.mjs --session cs_test_… [options]
//
//   --session ID        the Checkout Session askgate created (POST /api/checkout-session)
//   --fake URL          the local fake Stripe (e2e/fake-stripe.mjs): the buyer, package
//                       and amount are read from it (GET /_test/sessions/ID)
//   --user UUID         without --fake: the buyer's askgate user id
//   --package ID        without --fake: "100", "250" or "600"
//   --amount CENTS      what was paid (default: the fake's amount, else the package's price)
//   --payment-intent ID the payment's id (default: a new pi_test_…); reuse it with
//                       --type charge.refunded to refund the same payment
//   --type TYPE         checkout.session.completed (default), charge.refunded,
//                       charge.dispute.created or checkout.session.async_payment_failed
//   --askgate URL       default http://127.0.0.1:8080
//   --secret WHSEC      default $STRIPE_WEBHOOK_SECRET
//
// Needs npm `stripe`: found next to this script, or in e2e/node_modules
// (`cd e2e && npm ci`).

import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const PRICES = { 100: 500, 250: 1000, 600: 2000 };

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined) fail(`expected --flag value, got '${flag}'`);
    args[flag.slice(2)] = value;
  }
  return args;
}

function fail(message) {
  console.error(`send-test-webhook: ${message}`);
  process.exit(2);
}

async function loadStripe() {
  try {
    return (await import('stripe')).default;
  } catch {
    const require = createRequire(new URL('../e2e/package.json', import.meta.url));
    let entry;
    try {
      entry = require.resolve('stripe');
    } catch {
      fail('npm stripe is not installed: run `npm ci` in e2e/ (or `npm install --no-save stripe` here)');
    }
    const module = await import(pathToFileURL(entry).href);
    return module.default?.default ?? module.default ?? module;
  }
}

async function purchaseFromFake(fake, session) {
  const res = await fetch(`${fake.replace(/\/+$/, '')}/_test/sessions/${session}`);
  if (!res.ok) fail(`the fake Stripe does not know ${session} (${res.status})`);
  const s = await res.json();
  return {
    user: s.metadata?.user_id ?? s.client_reference_id,
    package: s.metadata?.package,
    amount: s.amount_total,
    currency: s.currency,
    email: s.customer_email,
  };
}

function checkoutSession(type, sessionId, paymentIntent, purchase) {
  const paid = type !== 'checkout.session.async_payment_failed';
  return {
    id: sessionId,
    object: 'checkout.session',
    amount_subtotal: purchase.amount,
    amount_total: purchase.amount,
    client_reference_id: purchase.user,
    created: Math.floor(Date.now() / 1000) - 60,
    currency: purchase.currency,
    customer_email: purchase.email ?? null,
    livemode: false,
    metadata: { user_id: purchase.user, package: purchase.package, tokens: purchase.package },
    mode: 'payment',
    payment_intent: paymentIntent,
    payment_status: paid ? 'paid' : 'unpaid',
    status: 'complete',
    url: null,
  };
}

function charge(type, paymentIntent, purchase) {
  if (type === 'charge.dispute.created') {
    return {
      id: `du_test_${randomBytes(8).toString('hex')}`,
      object: 'dispute',
      amount: purchase.amount,
      currency: purchase.currency,
      payment_intent: paymentIntent,
      reason: 'fraudulent',
      status: 'needs_response',
    };
  }
  return {
    id: `ch_test_${randomBytes(8).toString('hex')}`,
    object: 'charge',
    amount: purchase.amount,
    amount_refunded: purchase.amount,
    currency: purchase.currency,
    payment_intent: paymentIntent,
    refunded: true,
    status: 'succeeded',
  };
}

const args = parseArgs(process.argv.slice(2));
const type = args.type ?? 'checkout.session.completed';
const known = [
  'checkout.session.completed',
  'checkout.session.async_payment_failed',
  'charge.refunded',
  'charge.dispute.created',
];
if (!known.includes(type)) fail(`--type must be one of ${known.join(', ')}`);
const secret = args.secret ?? process.env.STRIPE_WEBHOOK_SECRET?.split(',')[0]?.trim();
if (!secret) fail('give --secret whsec_… or set STRIPE_WEBHOOK_SECRET');
const askgate = (args.askgate ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const paymentIntent = args['payment-intent'] ?? `pi_test_${randomBytes(12).toString('hex')}`;

let purchase = { user: args.user, package: args.package, amount: undefined, currency: 'usd' };
if (type.startsWith('checkout.')) {
  if (!args.session) fail('--session cs_test_… is required');
  if (args.fake) purchase = await purchaseFromFake(args.fake, args.session);
}
if (args.amount) purchase.amount = Number(args.amount);
purchase.amount ??= PRICES[purchase.package];
if (type.startsWith('checkout.') && (!purchase.user || !purchase.package)) {
  fail('the buyer is unknown: give --fake URL, or --user UUID and --package ID');
}
if (type.startsWith('charge.') && !args['payment-intent']) {
  fail(`${type} needs --payment-intent pi_… (the payment to take back)`);
}

const object = type.startsWith('checkout.')
  ? checkoutSession(type, args.session, paymentIntent, purchase)
  : charge(type, paymentIntent, purchase);
const event = {
  id: `evt_test_${randomBytes(12).toString('hex')}`,
  object: 'event',
  api_version: '2026-09-30.endive',
  created: Math.floor(Date.now() / 1000),
  data: { object },
  livemode: false,
  pending_webhooks: 1,
  request: { id: null, idempotency_key: null },
  type,
};

const Stripe = await loadStripe();
const stripe = new Stripe('sk_test_unused');
const payload = JSON.stringify(event, null, 2);
const signature = stripe.webhooks.generateTestHeaderString({ payload, secret });

const res = await fetch(`${askgate}/api/webhook/stripe`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', 'Stripe-Signature': signature },
  body: payload,
});
console.log(`${type} ${event.id} for ${paymentIntent} -> ${res.status} ${await res.text()}`);
process.exit(res.ok ? 0 : 1);
