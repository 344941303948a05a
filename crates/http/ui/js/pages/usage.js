// Usage: a chart of the tokens spent per day over the last 30 days (by
// service and domain), then the caller's ledger, newest first, a page at a
// time, narrowed by the filters above it.

import { request } from '../api.js';
import { formatDate, h, SERVICE_NAMES } from '../dom.js';

const PAGE_SIZE = 25;
const CHART_DAYS = 30;
const SVG = 'http://www.w3.org/2000/svg';
const SERIES_COLOURS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#4b5563'];

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
  const chart = h('figure', { class: 'usage-chart', 'data-testid': 'usage-chart' });
  const kind = h(
    'select',
    { name: 'type' },
    h('option', { value: '' }, 'All types'),
    Object.entries(TYPE_NAMES).map(([value, text]) => h('option', { value }, text)),
  );
  const service = h(
    'select',
    { name: 'service' },
    h('option', { value: '' }, 'All services'),
    Object.entries(SERVICE_NAMES).map(([value, text]) => h('option', { value }, text)),
  );
  const from = h('input', { type: 'date', name: 'from' });
  const to = h('input', { type: 'date', name: 'to' });
  const filters = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter the transactions' },
    h('label', {}, 'Type ', kind),
    h('label', {}, 'Service ', service),
    h('label', {}, 'From ', from),
    h('label', {}, 'To ', to),
    h('button', { type: 'submit', class: 'button secondary' }, 'Apply'),
  );
  view.append(
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Usage'),
      h('p', { class: 'lead' }, 'Every token bought, spent, refunded or granted, newest first.'),
      chart,
      filters,
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
      for (const [name, control] of [
        ['type', kind],
        ['service', service],
        ['from', from],
        ['to', to],
      ]) {
        if (control.value) query.set(name, control.value);
      }
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
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    cursor = null;
    body.replaceChildren();
    load();
  });
  load();
  loadChart();

  async function loadChart() {
    let usage;
    try {
      usage = await request(`/api/user/usage?days=${CHART_DAYS}`);
    } catch (err) {
      chart.replaceChildren(h('p', { class: 'error' }, `The chart could not be loaded: ${err.message}`));
      return;
    }
    const names = await namesFor(usage.days);
    chart.replaceChildren(...spendChart(usage, names));
  }
}

/** The days from `since` through today (UTC), as `YYYY-MM-DD`. */
function daysFrom(since) {
  const days = [];
  const day = new Date(`${since}T00:00:00Z`);
  const today = new Date().toISOString().slice(0, 10);
  while (days.length < 400) {
    const iso = day.toISOString().slice(0, 10);
    days.push(iso);
    if (iso >= today) break;
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return days;
}

/** A stacked bar per day, one colour per service and domain, and its legend. */
function spendChart(usage, names) {
  const days = daysFrom(usage.since);
  const seriesOf = (d) => `${d.service_type}|${d.domain_id || ''}`;
  const series = [...new Set(usage.days.map(seriesOf))];
  const label = (key) => {
    const [serviceType, domain] = key.split('|');
    const serviceName = SERVICE_NAMES[serviceType] || serviceType;
    return domain ? `${serviceName} · ${names.get(domain) || 'a removed domain'}` : serviceName;
  };
  const totals = new Map();
  for (const d of usage.days) totals.set(d.day, (totals.get(d.day) || 0) + Math.max(0, d.tokens));
  const top = Math.max(1, ...totals.values());
  const width = 600;
  const height = 160;
  const barWidth = width / days.length;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 20}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `Tokens spent per day, last ${days.length} days`);
  const offsets = new Map();
  for (const d of usage.days) {
    const i = days.indexOf(d.day);
    if (i < 0 || d.tokens <= 0) continue;
    const below = offsets.get(d.day) || 0;
    const barHeight = (d.tokens / top) * height;
    offsets.set(d.day, below + barHeight);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(i * barWidth + 1));
    rect.setAttribute('y', String(height - below - barHeight));
    rect.setAttribute('width', String(Math.max(1, barWidth - 2)));
    rect.setAttribute('height', String(barHeight));
    rect.setAttribute('fill', SERIES_COLOURS[series.indexOf(seriesOf(d)) % SERIES_COLOURS.length]);
    rect.dataset.day = d.day;
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${d.day}: ${d.tokens} ${d.tokens === 1 ? 'token' : 'tokens'}, ${label(seriesOf(d))}`;
    rect.append(title);
    svg.append(rect);
  }
  for (const [i, text] of [
    [0, days[0]],
    [days.length - 1, days[days.length - 1]],
  ]) {
    const tick = document.createElementNS(SVG, 'text');
    tick.setAttribute('x', String(i * barWidth + (i === 0 ? 0 : barWidth)));
    tick.setAttribute('y', String(height + 15));
    tick.setAttribute('text-anchor', i === 0 ? 'start' : 'end');
    tick.setAttribute('font-size', '11');
    tick.textContent = text;
    svg.append(tick);
  }
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  const caption = h(
    'figcaption',
    {},
    `Tokens spent per day, last ${days.length} days: ${total} in all.`,
    series.length
      ? h(
          'ul',
          { class: 'legend' },
          series.map((key, i) =>
            h(
              'li',
              {},
              h('span', {
                class: 'swatch',
                dataset: { colour: String(i % SERIES_COLOURS.length) },
              }),
              label(key),
            ),
          ),
        )
      : h('span', {}, ' Nothing spent yet.'),
  );
  return [svg, caption];
}

function row(t, names) {
  const amount = t.amount > 0 ? `+${t.amount}` : String(t.amount);
  // Tokens another app spent name that app (and why, as the app said).
  const app = t.service_type === 'app' && t.metadata?.app_name ? [t.metadata.app_name, t.metadata.reason].filter(Boolean).join(': ') : '';
  const service = app || (t.service_type ? SERVICE_NAMES[t.service_type] || t.service_type : '');
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
