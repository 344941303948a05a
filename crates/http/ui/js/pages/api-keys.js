// API keys: the signed-in user's personal keys for scripts and the CLI. A new
// key's secret is shown once, with a copy button; the list shows keys by
// prefix, with their scopes, last use and expiry, and revokes them.

import { request } from '../api.js';
import { confirmAction, field, formatDate, h, replace, setFieldError } from '../dom.js';

const SCOPES = [
  { value: 'chat', label: 'Chat', hint: 'Ask AskAT&T and AskDocs (spends tokens)' },
  { value: 'balance:read', label: 'Read balance', hint: 'See the token balance' },
  { value: 'history:read', label: 'Read history', hint: 'See transactions, usage and conversations' },
];

export function render(view) {
  const name = h('input', { type: 'text', id: 'key-name', name: 'name', maxlength: 100, required: true });
  const expires = h('input', { type: 'date', id: 'key-expires', name: 'expires' });
  const scopeBoxes = SCOPES.map((s) => ({
    scope: s,
    box: h('input', { type: 'checkbox', id: `scope-${s.value.replace(':', '-')}`, value: s.value }),
  }));
  const scopeField = h(
    'fieldset',
    { class: 'field', id: 'key-scopes' },
    h('legend', {}, 'Scopes'),
    scopeBoxes.map(({ scope, box }) =>
      h('div', { class: 'checkbox' }, box, ' ', h('label', { for: box.id }, scope.label), h('span', { class: 'hint' }, ` — ${scope.hint}`)),
    ),
    h('p', { class: 'field-error', id: 'key-scopes-error', hidden: true }),
  );
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading your keys…'));
  const form = h(
    'form',
    { class: 'stack', onSubmit: (e) => create(e) },
    field('Name', name, 'What the key is for, e.g. "laptop CLI"'),
    scopeField,
    field('Expires on (optional)', expires, 'The key stops working at the start of this day (UTC)'),
    h('button', { type: 'submit', class: 'button primary' }, 'Create key'),
  );
  view.append(
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'API keys'),
      h('p', {}, 'Send a key as ', h('code', {}, 'Authorization: Bearer agk_…'), '. It can do only what its scopes allow.'),
      form,
      status,
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Your keys'), list),
  );
  load();

  async function create(event) {
    event.preventDefault();
    setFieldError(name, '');
    const scopeError = document.getElementById('key-scopes-error');
    scopeError.hidden = true;
    const scopes = scopeBoxes.filter(({ box }) => box.checked).map(({ scope }) => scope.value);
    if (!name.value.trim()) {
      setFieldError(name, 'Give the key a name.');
      name.focus();
      return;
    }
    if (scopes.length === 0) {
      scopeError.textContent = 'Choose at least one scope.';
      scopeError.hidden = false;
      return;
    }
    const body = { name: name.value, scopes };
    if (expires.value) body.expires_at = `${expires.value}T00:00:00Z`;
    let created;
    try {
      created = await request('/api/user/api-keys', { method: 'POST', body });
    } catch (err) {
      if (err.field === 'name') setFieldError(name, err.message);
      else if (err.field === 'expires_at') setFieldError(expires, err.message);
      replace(status, h('p', { class: 'error', role: 'alert' }, `The key could not be created: ${err.message}`));
      return;
    }
    form.reset();
    showSecret(created);
    load();
  }

  function showSecret(created) {
    const secret = h('input', { type: 'text', id: 'key-secret', readonly: true, value: created.secret, 'aria-label': 'Secret' });
    const copied = h('span', { role: 'status' });
    const copy = h(
      'button',
      {
        type: 'button',
        class: 'button secondary',
        onClick: async () => {
          secret.select();
          try {
            await navigator.clipboard.writeText(created.secret);
            copied.textContent = ' Copied.';
          } catch {
            copied.textContent = ' Select the secret and copy it.';
          }
        },
      },
      'Copy',
    );
    replace(
      status,
      h(
        'div',
        { class: 'notice', id: 'new-key' },
        h('p', {}, h('strong', {}, `Key "${created.name}" created.`), ' Copy its secret now: it is not shown again.'),
        h('p', { class: 'secret' }, secret, ' ', copy, copied),
      ),
    );
  }

  async function load() {
    let page;
    try {
      page = await request('/api/user/api-keys');
    } catch (err) {
      replace(list, h('p', { class: 'error', role: 'alert' }, `Your keys could not be loaded: ${err.message}`));
      return;
    }
    if (page.items.length === 0) {
      replace(list, h('p', {}, 'You have no API keys yet.'));
      return;
    }
    replace(
      list,
      h(
        'table',
        { class: 'table', id: 'api-keys' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Key', 'Scopes', 'Created', 'Last used', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h('tbody', {}, page.items.map(row)),
      ),
    );
  }

  function row(key) {
    const expired = key.expires_at && new Date(key.expires_at) <= new Date();
    const state = key.revoked_at ? `Revoked ${formatDate(key.revoked_at)}` : expired ? 'Expired' : null;
    const revoke = state
      ? h('span', { class: 'muted' }, state)
      : h(
          'button',
          {
            type: 'button',
            class: 'button danger',
            'aria-label': `Revoke ${key.name}`,
            onClick: async () => {
              const sure = await confirmAction({
                title: `Revoke "${key.name}"?`,
                message: 'Anything using this key stops working at once. This cannot be undone.',
                confirmLabel: 'Revoke key',
              });
              if (!sure) return;
              try {
                await request(`/api/user/api-keys/${key.id}`, { method: 'DELETE' });
                replace(status, h('p', { role: 'status' }, `Revoked ${key.name}.`));
              } catch (err) {
                replace(status, h('p', { class: 'error', role: 'alert' }, `The key could not be revoked: ${err.message}`));
              }
              load();
            },
          },
          'Revoke',
        );
    return h(
      'tr',
      { dataset: { key: key.id } },
      h('td', {}, key.name),
      h('td', {}, h('code', {}, `${key.prefix}…`)),
      h('td', {}, key.scopes.join(', ')),
      h('td', {}, formatDate(key.created_at)),
      h('td', {}, key.last_used_at ? formatDate(key.last_used_at) : 'Never'),
      h('td', {}, key.expires_at ? formatDate(key.expires_at) : 'Never'),
      h('td', {}, revoke),
    );
  }
}
