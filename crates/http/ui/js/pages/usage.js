// Usage history: the caller's ledger, newest first, a page at a time.

import { request } from '../api.js';
import { formatDate, h, SERVICE_NAMES } from '../dom.js';

const PAGE_SIZE = 25;

const TYPE_NAMES = {
  purchase: 'Purchase',
  consumption: 'Chat answer',
  refund: 'Refund',
  grant: 'Grant',
  adjustment: 'Adjustment',
  reversal: 'Reversal',
};

export function render(view, ctx) {
  const body = h('tbody', { id: 'usage-rows' });
  const table = h(
    'table',
    { class: 'usage', hidden: true },
    h('caption', { class: 'visually-hidden' }, 'Token transactions, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Date', 'Type', 'Amount', 'Service / domain', 'Balance after'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    body,
  );
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading your history…');
  const more = h('button', { type: 'button', class: 'button secondary', hidden: true }, 'Load older');
  view.append(
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Usage'),
      h('p', { class: 'lead' }, 'Every token bought, spent, refunded or granted, newest first.'),
      status,
      h('div', { class: 'table-wrap' }, table),
      more,
    ),
  );

  let cursor = null;
  let domainNames = null;

  async function namesFor(items) {
    if (domainNames || !items.some((t) => t.domain_id)) return domainNames || new Map();
    const admin = ctx.user && ctx.user.role === 'admin';
    try {
      const domains = await request(admin ? '/api/domains?include_inactive=true' : '/api/domains');
      domainNames = new Map(domains.map((d) => [d.id, d.display_name || d.name]));
    } catch {
      domainNames = new Map();
    }
    return domainNames;
  }

  async function load() {
    more.disabled = true;
    let page;
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set('cursor', cursor);
      page = await request(`/api/user/transactions?${query}`);
    } catch (err) {
      status.className = 'error';
      status.textContent = `Your history could not be loaded: ${err.message}`;
      status.hidden = false;
      more.disabled = false;
      return;
    }
    const names = await namesFor(page.items);
    body.append(...page.items.map((t) => row(t, names)));
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    more.disabled = false;
    table.hidden = body.children.length === 0;
    status.hidden = body.children.length > 0;
    if (body.children.length === 0) {
      status.className = 'empty';
      status.textContent = 'Nothing yet: buy tokens or ask a question and it will show here.';
    }
  }

  more.addEventListener('click', load);
  load();
}

function row(t, names) {
  const amount = t.amount > 0 ? `+${t.amount}` : String(t.amount);
  const service = t.service_type ? SERVICE_NAMES[t.service_type] || t.service_type : '';
  const domain = t.domain_id ? names.get(t.domain_id) || 'a removed domain' : '';
  const where = [service, domain].filter(Boolean).join(' · ') || '—';
  return h(
    'tr',
    { dataset: { type: t.type } },
    h('td', {}, h('time', { datetime: t.created_at }, formatDate(t.created_at))),
    h('td', {}, TYPE_NAMES[t.type] || t.type),
    h('td', { class: `amount ${t.amount < 0 ? 'negative' : 'positive'}` }, amount),
    h('td', {}, where),
    h('td', { class: 'number' }, String(t.balance_after)),
  );
}
