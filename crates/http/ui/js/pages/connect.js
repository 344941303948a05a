// Another app's "Sign in with askgate" (its SDK opens this page in a popup,
// or sends the whole window here): the signed-in person lets the app use
// their askgate account, and askgate hands the app a session of its own, by
// postMessage to the app's origin only, or by sending the window back to one
// of the app's return URLs with the session in the fragment (never sent to
// a server); either only when the app was registered with it.

import { currentUser, request } from '../api.js';
import { h, replace } from '../dom.js';

export function render(view) {
  const params = new URLSearchParams(location.search);
  const clientId = params.get('client_id') || '';
  const origin = params.get('origin') || '';
  const returnUrl = params.get('return_url') || '';
  const user = currentUser();
  const status = h('p', { class: 'status', role: 'status', id: 'connect-status' });
  const tell = (message, targetOrigin) => {
    // Never '*': the message goes to the one origin askgate accepted.
    if (window.opener && targetOrigin) window.opener.postMessage(message, targetOrigin);
  };
  const allow = async () => {
    replace(status, 'Signing the app in…');
    let connected;
    const body = returnUrl ? { client_id: clientId, return_url: returnUrl } : { client_id: clientId, origin };
    try {
      connected = await request('/api/user/app-sessions', { method: 'POST', body });
    } catch (err) {
      replace(status, h('span', { class: 'error', role: 'alert', id: 'connect-error' }, err.message));
      return;
    }
    if (connected.return_url) {
      const fragment = new URLSearchParams({ askgate_session: JSON.stringify(connected.session) });
      location.replace(`${connected.return_url.split('#')[0]}#${fragment}`);
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
    // A redirect sign-in is not sent back: return_url is unchecked until an
    // Allow, and sending the window to it would make this an open redirect.
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
