// Admin: the audit log, newest first, filtered by action or target.

import { request } from '../api.js';
import { field, formatDate, h, replace } from '../dom.js';

const ACTIONS = [
  'grant',
  'adjustment',
  'disable',
  'enable',
  'role_change',
  'domain_create',
  'domain_update',
  'domain_delete',
  'app_create',
  'app_update',
  'app_revoke',
  'app_rotate_secret',
];

export function render(view) {
  const action = h(
    'select',
    { id: 'audit-action', name: 'action' },
    h('option', { value: '' }, 'All actions'),
    ...ACTIONS.map((a) => h('option', { value: a }, a)),
  );
  const target = h('input', { type: 'text', id: 'audit-target', name: 'target', placeholder: 'User or domain id' });
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading the audit log…'));
  const form = h(
    'form',
    {
      class: 'search-form',
      onSubmit: (e) => {
        e.preventDefault();
        load();
      },
    },
    field('Action', action),
    field('Target', target),
    h('button', { type: 'submit', class: 'button secondary' }, 'Filter'),
  );
  view.append(h('section', { class: 'card' }, h('h1', {}, 'Audit log'), form, list));

  async function load(cursor = null) {
    const params = new URLSearchParams();
    if (action.value) params.set('action', action.value);
    if (target.value.trim()) params.set('target', target.value.trim());
    if (cursor) params.set('cursor', cursor);
    let page;
    try {
      page = await request(`/api/admin/audit?${params}`);
    } catch (err) {
      const text =
        err.status === 403
          ? 'You are not allowed to read the audit log. Only administrators can.'
          : `The audit log could not be loaded: ${err.message}`;
      replace(list, h('p', { class: 'error', role: 'alert', id: err.status === 403 ? 'not-allowed' : undefined }, text));
      return;
    }
    const rows = page.items.map((r) =>
      h(
        'tr',
        {},
        h('td', {}, formatDate(r.created_at)),
        h('td', {}, r.actor_email),
        h('td', {}, r.action),
        h('td', {}, h('code', {}, `${r.target_type} ${r.target_id}`)),
        h(
          'td',
          {},
          h('code', {}, r.before ? JSON.stringify(r.before) : '—'),
          ' → ',
          h('code', {}, r.after ? JSON.stringify(r.after) : '—'),
        ),
        h('td', {}, r.reason || ''),
        h('td', {}, h('code', {}, r.request_id || '')),
      ),
    );
    const more = page.next_cursor
      ? h('button', { type: 'button', class: 'button secondary', onClick: () => load(page.next_cursor) }, 'Older')
      : null;
    replace(
      list,
      rows.length
        ? h(
            'table',
            { class: 'table', id: 'audit-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['When', 'Who', 'What', 'Target', 'Before → after', 'Reason', 'Request'].map((t) => h('th', { scope: 'col' }, t)),
              ),
            ),
            h('tbody', {}, ...rows),
          )
        : h('p', {}, 'Nothing recorded yet.'),
      more,
    );
  }

  load();
}
