// Device sign-in on a development server: the command-line tool (or any
// device) shows a code; the signed-in user enters it here and approves or
// declines. With Microsoft sign-in configured the code is entered at
// Microsoft instead and this page is not used.

import { currentUser, request } from '../api.js';
import { field, h, replace, setFieldError } from '../dom.js';

export function render(view) {
  const given = new URLSearchParams(location.search).get('code') || '';
  const code = h('input', {
    id: 'device-code',
    name: 'user_code',
    value: given,
    maxlength: '32',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    required: true,
  });
  const status = h('p', { class: 'status', role: 'status', id: 'device-status' });
  const user = currentUser();
  const decide = async (approve) => {
    setFieldError(code, null);
    replace(status);
    try {
      await request('/api/auth/device/approve', {
        method: 'POST',
        body: { user_code: code.value.trim(), approve },
      });
    } catch (err) {
      if (err.status === 404 || err.status === 422) setFieldError(code, err.message);
      else replace(status, h('span', { class: 'error', role: 'alert' }, err.message));
      return;
    }
    replace(
      form,
      h(
        'p',
        { class: 'notice', id: 'device-done' },
        approve ? 'Done: your device is signed in as you. You can close this page.' : 'Declined: the device was not signed in.',
      ),
    );
  };
  const form = h(
    'form',
    {
      onSubmit: (e) => {
        e.preventDefault();
        decide(true);
      },
    },
    field('Code shown on your device', code, 'Like BCDF-GHJK; case and dashes do not matter.'),
    h(
      'p',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'button primary', id: 'device-approve' }, 'Sign the device in'),
      ' ',
      h('button', { type: 'button', class: 'button secondary', id: 'device-deny', onClick: () => decide(false) }, 'Decline'),
    ),
  );
  view.append(
    h(
      'section',
      { class: 'card narrow' },
      h('h1', {}, 'Sign in a device'),
      h('p', {}, `A device asks to sign in as ${user ? user.email : 'you'}. Approve only a code you started yourself.`),
      form,
      status,
    ),
  );
}
