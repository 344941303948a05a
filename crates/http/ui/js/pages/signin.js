// Sign in: with Microsoft (the server-side OpenID Connect flow), and a
// development form when the server allows dev login.

import { devLogin, expectSignIn, loadUiConfig } from '../api.js';
import { field, h, replace } from '../dom.js';

const SIGN_IN_ERRORS = {
  cancelled: 'Signing in with Microsoft was cancelled.',
  disabled: 'This account is disabled. Contact an administrator to have it enabled again.',
  failed: 'Signing in with Microsoft did not complete. Please try again.',
};

export function render(view, ctx) {
  const options = h('div', { class: 'signin-options' }, h('p', { class: 'loading' }, 'Loading sign-in options…'));
  view.append(
    h(
      'section',
      { class: 'card narrow' },
      h('h1', {}, 'Sign in to askgate'),
      h('p', { class: 'lead' }, 'Ask AT&T and your document collections, one token per answer.'),
      ctx.message ? h('p', { class: 'notice', role: 'status' }, ctx.message) : null,
      ctx.params.get('error')
        ? h('p', { class: 'error', role: 'alert' }, SIGN_IN_ERRORS[ctx.params.get('error')] || SIGN_IN_ERRORS.failed)
        : null,
      options,
    ),
  );
  showOptions(options, ctx);
}

async function showOptions(options, ctx) {
  let config;
  try {
    config = await loadUiConfig();
  } catch (err) {
    replace(
      options,
      h('p', { class: 'error', role: 'alert' }, `Sign-in options could not be loaded: ${err.message}`),
      h('button', { type: 'button', class: 'button', onClick: () => showOptions(options, ctx) }, 'Try again'),
    );
    return;
  }
  const parts = [];
  if (config.microsoft_login) {
    const href = `/api/auth/authorize?return_to=${encodeURIComponent(ctx.returnTo)}`;
    parts.push(h('a', { class: 'button primary microsoft', href, onClick: expectSignIn }, 'Sign in with Microsoft'));
  }
  if (config.dev_login) parts.push(devLoginForm(ctx));
  if (parts.length === 0) {
    parts.push(h('p', { class: 'error', role: 'alert' }, 'No way to sign in is configured on this server.'));
  }
  replace(options, parts);
}

function devLoginForm(ctx) {
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'email' });
  const name = h('input', { type: 'text', name: 'display_name', autocomplete: 'name' });
  const admin = h('input', { type: 'checkbox', name: 'admin', id: 'dev-admin' });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Sign in (development)');

  const form = h(
    'form',
    { class: 'dev-login', 'aria-labelledby': 'dev-login-title' },
    h('h2', { id: 'dev-login-title' }, 'Development sign-in'),
    h('p', { class: 'hint' }, 'Enabled on this server for local use; never in production.'),
    field('Email', email),
    field('Display name (optional)', name),
    h('div', { class: 'field checkbox' }, admin, h('label', { for: 'dev-admin' }, 'Sign in as an administrator')),
    error,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      await devLogin(email.value.trim(), name.value.trim(), admin.checked);
      ctx.navigate(ctx.returnTo, { replace: true });
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  return form;
}
