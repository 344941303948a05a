// Admin: registered apps. Register one (name, scopes, return URLs, origins,
// daily limit per user), see its secret once, rotate it with an overlap, and
// revoke the app. Every action is in the audit log.

import { request } from '../api.js';
import { confirmAction, field, formatDate, h, replace } from '../dom.js';

const SCOPES = ['token:introspect', 'balance:read', 'credits:consume', 'checkout:create'];

const lines = (text) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

export function render(view) {
  const name = h('input', { type: 'text', id: 'app-name', maxlength: 100, required: true });
  const returnUrls = h('textarea', { id: 'app-return-urls', rows: 2 });
  const origins = h('textarea', { id: 'app-origins', rows: 2 });
  const limit = h('input', { type: 'number', id: 'app-limit', min: 1 });
  const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', id: `app-scope-${s.replace(':', '-')}`, value: s }));
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading apps…'));
  const form = h(
    'form',
    { class: 'stack', onSubmit: (e) => create(e) },
    field('Name', name),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, 'Scopes'),
      boxes.map((box) => h('div', { class: 'checkbox' }, box, ' ', h('label', { for: box.id }, box.value))),
    ),
    field('Return URLs (one a line)', returnUrls, 'https://…, or http://localhost… for development'),
    field('Allowed origins (one a line)', origins),
    field('Daily limit per user (optional)', limit, 'Tokens the app may spend per user per UTC day'),
    h('button', { type: 'submit', class: 'button primary' }, 'Register app'),
  );
  view.append(
    h('section', { class: 'card' }, h('h1', {}, 'Apps'), form, status),
    h('section', { class: 'card' }, h('h2', {}, 'Registered apps'), list),
  );
  load();

  function showSecret(app, verb) {
    const secret = h('input', { type: 'text', id: 'app-secret', readonly: true, value: app.client_secret, 'aria-label': 'Client secret' });
    replace(
      status,
      h(
        'div',
        { class: 'notice', id: 'new-app-secret' },
        h('p', {}, h('strong', {}, `${app.name} ${verb}.`), ' Copy the client secret now: it is not shown again.'),
        h('p', {}, 'Client id: ', h('code', {}, app.client_id)),
        h('p', { class: 'secret' }, secret),
      ),
    );
  }

  async function create(event) {
    event.preventDefault();
    const body = {
      name: name.value,
      scopes: boxes.filter((b) => b.checked).map((b) => b.value),
      allowed_return_urls: lines(returnUrls.value),
      allowed_origins: lines(origins.value),
    };
    if (limit.value) body.daily_limit_per_user = Number(limit.value);
    try {
      const created = await request('/api/admin/apps', { method: 'POST', body });
      form.reset();
      showSecret(created, 'registered');
      load();
    } catch (err) {
      replace(status, h('p', { class: 'error', role: 'alert' }, `The app could not be registered: ${err.message}`));
    }
  }

  async function load() {
    let page;
    try {
      page = await request('/api/admin/apps');
    } catch (err) {
      const text = err.status === 403 ? 'Only administrators can manage apps.' : `Apps could not be loaded: ${err.message}`;
      replace(list, h('p', { class: 'error', role: 'alert' }, text));
      return;
    }
    if (page.items.length === 0) {
      replace(list, h('p', {}, 'No apps are registered yet.'));
      return;
    }
    replace(
      list,
      h(
        'table',
        { class: 'table', id: 'apps' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Client id', 'Scopes', 'Return URLs', 'Daily limit', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        h('tbody', {}, page.items.map(row)),
      ),
    );
  }

  function row(app) {
    const actions = app.revoked_at
      ? h('span', { class: 'muted' }, `Revoked ${formatDate(app.revoked_at)}`)
      : [
          h(
            'button',
            {
              type: 'button',
              class: 'button secondary',
              'aria-label': `Rotate the secret of ${app.name}`,
              onClick: async () => {
                try {
                  showSecret(
                    await request(`/api/admin/apps/${app.id}/rotate-secret`, { method: 'POST', body: {} }),
                    'has a new secret (the previous one works for a day)',
                  );
                } catch (err) {
                  replace(status, h('p', { class: 'error', role: 'alert' }, `The secret could not be rotated: ${err.message}`));
                }
              },
            },
            'Rotate secret',
          ),
          ' ',
          h(
            'button',
            {
              type: 'button',
              class: 'button danger',
              'aria-label': `Revoke ${app.name}`,
              onClick: async () => {
                const sure = await confirmAction({
                  title: `Revoke ${app.name}?`,
                  message: 'Its credentials stop working at once. This cannot be undone.',
                  confirmLabel: 'Revoke app',
                });
                if (!sure) return;
                try {
                  await request(`/api/admin/apps/${app.id}`, { method: 'DELETE' });
                  replace(status, h('p', { role: 'status' }, `Revoked ${app.name}.`));
                } catch (err) {
                  replace(status, h('p', { class: 'error', role: 'alert' }, `The app could not be revoked: ${err.message}`));
                }
                load();
              },
            },
            'Revoke',
          ),
        ];
    return h(
      'tr',
      { dataset: { app: app.id } },
      h('td', {}, app.name),
      h('td', {}, h('code', {}, app.client_id)),
      h('td', {}, app.scopes.join(', ')),
      h('td', {}, app.allowed_return_urls.join('\n') || '—'),
      h('td', {}, app.daily_limit_per_user ?? '—'),
      h('td', {}, formatDate(app.created_at)),
      h('td', {}, actions),
    );
  }
}
