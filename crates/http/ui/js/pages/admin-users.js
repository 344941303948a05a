// Admin: find users, read one's ledger, grant or adjust tokens with a reason,
// disable or enable the account, change the role. The API decides who may:
// anyone else gets 403 and this page says so.

import { newIdempotencyKey, request } from '../api.js';
import { confirmAction, field, formatDate, h, replace, setFieldError } from '../dom.js';

export function render(view) {
  const status = h('p', { class: 'status', role: 'status', id: 'admin-users-status' });
  const search = h('input', { type: 'search', id: 'user-search', name: 'search', maxlength: '254', placeholder: 'E-mail or name' });
  const list = h('div', {}, h('p', { class: 'loading' }, 'Loading users…'));
  const detail = h('div', { id: 'user-detail' });
  const form = h(
    'form',
    {
      class: 'search-form',
      onSubmit: (e) => {
        e.preventDefault();
        load();
      },
    },
    field('Search users', search),
    h('button', { type: 'submit', class: 'button secondary' }, 'Search'),
  );
  view.append(h('section', { class: 'card' }, h('h1', {}, 'Users'), status, form, list), detail);

  async function load(cursor = null) {
    const params = new URLSearchParams();
    if (search.value.trim()) params.set('search', search.value.trim());
    if (cursor) params.set('cursor', cursor);
    let page;
    try {
      page = await request(`/api/admin/users?${params}`);
    } catch (err) {
      const text =
        err.status === 403
          ? 'You are not allowed to manage users. Only administrators can.'
          : `The users could not be loaded: ${err.message}`;
      replace(list, h('p', { class: 'error', role: 'alert', id: err.status === 403 ? 'not-allowed' : undefined }, text));
      return;
    }
    const rows = page.items.map((u) =>
      h(
        'tr',
        { dataset: { email: u.email } },
        h(
          'td',
          {},
          h('button', { type: 'button', class: 'link-button', onClick: () => show(u.id) }, u.email),
          u.display_name ? h('br') : null,
          u.display_name || '',
        ),
        h('td', {}, String(u.tokens)),
        h('td', {}, roleLabel(u)),
        h('td', {}, u.disabled_at ? h('span', { class: 'badge inactive' }, 'Disabled') : h('span', { class: 'badge active' }, 'Active')),
        h('td', {}, u.last_login ? formatDate(u.last_login) : '—'),
      ),
    );
    const more = page.next_cursor
      ? h('button', { type: 'button', class: 'button secondary', onClick: () => load(page.next_cursor) }, 'Next page')
      : null;
    replace(
      list,
      rows.length
        ? h(
            'table',
            { class: 'table', id: 'users-table' },
            h('thead', {}, h('tr', {}, ...['User', 'Tokens', 'Role', 'Status', 'Last sign-in'].map((t) => h('th', { scope: 'col' }, t)))),
            h('tbody', {}, ...rows),
          )
        : h('p', {}, 'No user matches.'),
      more,
    );
  }

  async function show(id) {
    let user;
    let ledger;
    try {
      [user, ledger] = await Promise.all([request(`/api/admin/users/${id}`), request(`/api/admin/users/${id}/transactions`)]);
    } catch (err) {
      replace(detail, h('p', { class: 'error', role: 'alert' }, `The user could not be loaded: ${err.message}`));
      return;
    }
    const kind = h(
      'select',
      { name: 'type', id: 'credit-type' },
      h('option', { value: 'grant' }, 'Grant (add tokens)'),
      h('option', { value: 'adjustment' }, 'Adjustment (+ or −)'),
    );
    const amount = h('input', { type: 'number', name: 'amount', id: 'credit-amount', required: true, step: '1' });
    const reason = h('textarea', { name: 'reason', id: 'credit-reason', required: true, maxlength: '500', rows: '2' });
    const key = newIdempotencyKey();
    const creditForm = h(
      'form',
      {
        id: 'credit-form',
        onSubmit: async (e) => {
          e.preventDefault();
          setFieldError(amount, null);
          setFieldError(reason, null);
          try {
            await request(`/api/admin/users/${id}/credits`, {
              method: 'POST',
              headers: { 'Idempotency-Key': key },
              body: { type: kind.value, amount: Number(amount.value), reason: reason.value },
            });
          } catch (err) {
            setFieldError(err.field === 'reason' ? reason : amount, err.message);
            return;
          }
          status.textContent = `Saved: ${kind.value} of ${amount.value} tokens for ${user.email}.`;
          await show(id);
          await load();
        },
      },
      field('Kind', kind),
      field('Tokens', amount),
      field('Reason (required, shown in the audit log)', reason),
      h('button', { type: 'submit', class: 'button primary' }, 'Save'),
    );
    const toggle = h(
      'button',
      {
        type: 'button',
        class: `button ${user.disabled_at ? 'secondary' : 'danger'}`,
        id: 'toggle-disabled',
        onClick: async () => {
          const action = user.disabled_at ? 'enable' : 'disable';
          const ok = await confirmAction({
            title: `${action === 'disable' ? 'Disable' : 'Enable'} ${user.email}?`,
            message: action === 'disable' ? 'Their sessions end now; tokens and history stay.' : 'They may sign in again.',
            confirmLabel: action === 'disable' ? 'Disable' : 'Enable',
          });
          if (!ok) return;
          await act(`/api/admin/users/${id}/${action}`, 'POST', {});
        },
      },
      user.disabled_at ? 'Enable account' : 'Disable account',
    );
    const roleButton = user.role_from_sign_in
      ? h('p', { class: 'hint', id: 'role-managed' }, `Role ${user.role}: set by the sign-in configuration, not editable here.`)
      : h(
          'button',
          {
            type: 'button',
            class: 'button secondary',
            id: 'toggle-role',
            onClick: () => act(`/api/admin/users/${id}/role`, 'PUT', { role: user.role === 'admin' ? 'user' : 'admin' }),
          },
          user.role === 'admin' ? 'Make a user' : 'Make an admin',
        );
    async function act(path, method, body) {
      try {
        await request(path, { method, body });
      } catch (err) {
        status.textContent = err.message;
        return;
      }
      await show(id);
      await load();
    }
    const entries = ledger.items.map((t) =>
      h(
        'tr',
        {},
        h('td', {}, formatDate(t.created_at)),
        h('td', {}, t.type),
        h('td', {}, String(t.amount)),
        h('td', {}, String(t.balance_after)),
        h('td', {}, t.metadata?.reason || ''),
      ),
    );
    replace(
      detail,
      h(
        'section',
        { class: 'card', id: 'user-card' },
        h('h2', {}, user.display_name || user.email),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'E-mail'),
          h('dd', {}, user.email),
          h('dt', {}, 'Balance'),
          h('dd', { id: 'user-balance' }, `${user.tokens} tokens`),
          h('dt', {}, 'Conversations'),
          h('dd', {}, String(user.conversations)),
          h('dt', {}, 'Role'),
          h('dd', {}, roleLabel(user)),
          h('dt', {}, 'Joined'),
          h('dd', {}, formatDate(user.created_at)),
        ),
        h('div', { class: 'row-actions' }, toggle, roleButton),
        h('h3', {}, 'Give or take tokens'),
        creditForm,
        h('h3', {}, 'Ledger'),
        entries.length
          ? h(
              'table',
              { class: 'table', id: 'user-ledger' },
              h('thead', {}, h('tr', {}, ...['When', 'Type', 'Amount', 'Balance', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
              h('tbody', {}, ...entries),
            )
          : h('p', {}, 'No ledger rows yet.'),
      ),
    );
  }

  load();
}

function roleLabel(user) {
  return user.role_from_sign_in ? `${user.role} (sign-in)` : user.role;
}
