// Buy tokens: the three packages; choosing one goes to Stripe Checkout.

import { loadUiConfig, request } from '../api.js';
import { h, replace } from '../dom.js';

export function render(view) {
  const packages = h('div', { class: 'packages' }, h('p', { class: 'loading' }, 'Loading packages…'));
  const alert = h('div', { class: 'alert-box', role: 'alert' });
  view.append(
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Buy tokens'),
      h('p', { class: 'lead' }, 'Each chat answer costs one token. Tokens do not expire. Payment is handled by Stripe.'),
      alert,
      packages,
    ),
  );
  show(packages, alert);
}

async function show(packages, alert) {
  let list;
  let config = { payments: true };
  try {
    let answer;
    [answer, config] = await Promise.all([request('/api/token-packages', { auth: false }), loadUiConfig().catch(() => config)]);
    // An array, or `{packages: [...]}`.
    list = Array.isArray(answer) ? answer : answer.packages;
  } catch (err) {
    replace(packages, h('p', { class: 'error' }, `The packages could not be loaded: ${err.message}`));
    return;
  }
  if (!config.payments && config.grant_locally) {
    replace(
      alert,
      h(
        'p',
        {},
        'Payments are off on this development server (no STRIPE_SECRET_KEY), so tokens cannot be bought here. Grant them from the command line: ',
        h('code', {}, config.grant_command),
      ),
    );
  } else if (!config.payments) {
    replace(alert, h('p', {}, 'Payments are not configured on this server, so tokens cannot be bought here.'));
  }
  replace(
    packages,
    list.map((p) => {
      const button = h(
        'button',
        { type: 'button', class: 'button primary', disabled: !config.payments, 'aria-describedby': `package-${p.id}-price` },
        `Buy ${p.tokens} tokens`,
      );
      button.addEventListener('click', () => checkout(p, button, alert));
      return h(
        'article',
        { class: 'package', dataset: { package: p.id } },
        h('h2', {}, `${p.tokens} tokens`),
        h('p', { class: 'price', id: `package-${p.id}-price` }, p.display_price),
        h('p', { class: 'hint' }, perToken(p)),
        button,
      );
    }),
  );
}

function perToken(p) {
  const cents = p.amount_cents / p.tokens;
  return `${cents.toFixed(1)}¢ per answer`;
}

async function checkout(p, button, alert) {
  alert.replaceChildren();
  button.disabled = true;
  const label = button.textContent;
  button.textContent = 'Opening checkout…';
  try {
    const session = await request('/api/checkout-session', { method: 'POST', body: { package: p.id } });
    const url = session && typeof session.url === 'string' ? new URL(session.url, location.href) : null;
    if (!url || !['https:', 'http:'].includes(url.protocol)) {
      throw new Error('the payment page address was not understood.');
    }
    location.assign(url.href);
  } catch (err) {
    const message =
      err.status === 503 ? 'Payments are not available right now; nothing was charged.' : `Checkout could not start: ${err.message}`;
    replace(alert, h('p', {}, message));
    button.disabled = false;
    button.textContent = label;
  }
}
