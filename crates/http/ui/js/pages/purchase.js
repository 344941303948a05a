// Back from Stripe Checkout: success waits for the payment to be credited;
// cancel says nothing was charged.

import { request, setBalance } from '../api.js';
import { h, link, replace } from '../dom.js';

// Stripe usually confirms within seconds; keep asking for two minutes.
const POLL_DELAYS_MS = [500, 1000, 1000, 2000, 2000, 3000];
const GIVE_UP_AFTER_MS = 120_000;

export const success = {
  render(view, ctx) {
    const sessionId = ctx.params.get('session_id');
    const status = h('div', { class: 'purchase-status', role: 'status', 'aria-live': 'polite' });
    view.append(h('section', { class: 'card narrow' }, h('h1', {}, 'Thank you'), status));
    if (!sessionId) {
      replace(status, h('p', {}, 'This page needs the checkout session it came back from.'), link('/buy', 'Buy tokens'));
      return undefined;
    }
    replace(status, h('p', { class: 'loading' }, 'Waiting for Stripe to confirm your payment…'));

    let timer = null;
    let stopped = false;
    let started = Date.now();
    let attempt = 0;

    async function poll() {
      if (stopped) return;
      let purchase = null;
      try {
        purchase = await request(`/api/purchases/${encodeURIComponent(sessionId)}`);
      } catch (err) {
        // A 404 can mean the checkout is not recorded yet; anything else is shown.
        if (err.status !== 404) {
          replace(status, h('p', { class: 'error' }, `The payment could not be checked: ${err.message}`), retryButton());
          return;
        }
      }
      if (stopped) return;
      if (purchase && purchase.status === 'credited') {
        setBalance(purchase.balance);
        replace(
          status,
          h('p', { class: 'success' }, `Payment received: ${purchase.tokens} tokens were added.`),
          h('p', { class: 'big' }, 'Your balance is now ', h('strong', { id: 'new-balance' }, String(purchase.balance)), ' tokens.'),
          link('/chat', 'Start chatting', { class: 'button primary' }),
        );
        return;
      }
      if (purchase && purchase.status === 'failed') {
        replace(status, h('p', { class: 'error' }, 'The payment did not go through. Nothing was charged.'), link('/buy', 'Try again'));
        return;
      }
      if (Date.now() - started > GIVE_UP_AFTER_MS) {
        replace(
          status,
          h('p', {}, 'Your payment is still being confirmed. The tokens will appear in your balance as soon as Stripe confirms it.'),
          retryButton(),
        );
        return;
      }
      const delay = POLL_DELAYS_MS[Math.min(attempt, POLL_DELAYS_MS.length - 1)];
      attempt += 1;
      timer = setTimeout(poll, delay);
    }

    function retryButton() {
      return h(
        'button',
        {
          type: 'button',
          class: 'button',
          onClick: () => {
            replace(status, h('p', { class: 'loading' }, 'Checking your payment…'));
            attempt = 0;
            started = Date.now();
            poll();
          },
        },
        'Check again',
      );
    }

    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  },
};

export const cancel = {
  render(view, ctx) {
    view.append(
      h(
        'section',
        { class: 'card narrow' },
        h('h1', {}, 'Payment cancelled'),
        h('p', { class: 'big' }, 'Nothing was charged.'),
        h('p', {}, 'You can choose a package again whenever you like.'),
        ctx.user
          ? link('/buy', 'Back to the packages', { class: 'button primary' })
          : link('/signin', 'Sign in', { class: 'button primary' }),
      ),
    );
  },
};
