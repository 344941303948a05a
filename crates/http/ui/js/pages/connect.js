// Another app's "Sign in with askgate" (its SDK opens this page in a popup):
// the signed-in person lets the app use their askgate account, and askgate
// hands the app a session of its own by postMessage, to the app's origin
// only, and only when that origin is one the app was registered with.

import { currentUser, request } from '../api.js';
import { h, replace } from '../dom.js';

export function render(view) {
  const params = new URLSearchParams(location.search);
  const clientId = params.get('client_id') || '';
  const origin = params.get('origin') || '';
  const user = currentUser();
  const status = h('p', { class: 'status', role: 'status', id: 'connect-status' });
  const tell = (message, targetOrigin) => {
    // Never '*': the message goes to the one origin askgate accepted.
    if (window.opener && targetOrigin) window.opener.postMessage(message, targetOrigin);
  };
  const allow = async () => {
    replace(status, 'Signing the app in…');
    let connected;
    try {
      connected = await request('/api/user/app-sessions', { method: 'POST', body: { client_id: clientId, origin } });
    } catch (err) {
      replace(status, h('span', { class: 'error', role: 'alert', id: 'connect-error' }, err.message));
      return;
    }
    tell({ type: 'askgate:signed-in', ...connected.session }, connected.origin);
    replace(
      card,
      h('h1', {}, 'Signed in'),
      h('p', { id: 'connect-done' }, `${connected.app_name} is signed in as you. You can close this window.`),
    );
    if (window.opener) window.close();
  };
  const cancel = () => {
    tell({ type: 'askgate:cancelled' }, origin.startsWith('http') ? origin : null);
    replace(card, h('h1', {}, 'Cancelled'), h('p', {}, 'The app was not signed in. You can close this window.'));
  };
  const card = h(
    'section',
    { class: 'card narrow' },
    h('h1', {}, 'Sign in to an app'),
    h(
      'p',
      {},
      `The app at ${origin || 'an unknown address'} asks to use your askgate account (${user ? user.email : 'you'}): to see your balance and spend your tokens.`,
    ),
    h(
      'p',
      { class: 'actions' },
      h('button', { type: 'button', class: 'button primary', id: 'connect-allow', onClick: allow }, 'Allow'),
      ' ',
      h('button', { type: 'button', class: 'button secondary', id: 'connect-cancel', onClick: cancel }, 'Cancel'),
    ),
    status,
  );
  view.append(card);
}
