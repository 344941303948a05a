// Admin: the overview of a period (the last 30 days unless another is
// picked): the figures, then charts drawn as inline SVG — tokens sold and
// spent per day, spending by service and by AskDocs domain, sales by package,
// and what the unspent tokens are.

import { request } from '../api.js';
import { field, h, replace, SERVICE_NAMES } from '../dom.js';

const SVG = 'http://www.w3.org/2000/svg';
// The colours of `.swatch[data-colour]` in app.css, in the same order.
const COLOURS = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#dc2626', '#0891b2', '#4b5563'];
const SOLD = 0;
const SPENT = 2;

export function render(view, ctx) {
  const from = h('input', { type: 'date', name: 'from', id: 'overview-from' });
  const to = h('input', { type: 'date', name: 'to', id: 'overview-to' });
  from.value = ctx.params.get('from') || '';
  to.value = ctx.params.get('to') || '';
  const status = h('p', { class: 'loading', role: 'status' }, 'Loading the overview…');
  const content = h('div', { class: 'overview', 'aria-live': 'polite' });
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Period',
      onSubmit: (e) => {
        e.preventDefault();
        const query = new URLSearchParams();
        if (from.value) query.set('from', from.value);
        if (to.value) query.set('to', to.value);
        history.replaceState(null, '', `/admin/overview${query.size ? `?${query}` : ''}`);
        load();
      },
    },
    field('From', from),
    field('To (included)', to),
    h('button', { type: 'submit', class: 'button secondary' }, 'Show'),
    h(
      'button',
      {
        type: 'button',
        class: 'button secondary',
        onClick: () => {
          from.value = '';
          to.value = '';
          history.replaceState(null, '', '/admin/overview');
          load();
        },
      },
      'Last 30 days',
    ),
  );
  view.append(
    h(
      'section',
      { class: 'card' },
      h('h1', {}, 'Overview'),
      h('p', { class: 'lead' }, 'Tokens sold and spent, refunds and disputes, and what is still owed, for a period (UTC days).'),
      form,
      status,
      content,
    ),
  );

  async function load() {
    const query = new URLSearchParams();
    if (from.value) query.set('from', from.value);
    if (to.value) query.set('to', to.value);
    status.hidden = false;
    status.className = 'loading';
    status.textContent = 'Loading the overview…';
    let overview;
    try {
      overview = await request(`/api/admin/overview?${query}`);
    } catch (err) {
      status.className = 'error';
      status.setAttribute('role', 'alert');
      if (err.status === 403) {
        status.id = 'not-allowed';
        status.textContent = 'You are not allowed to see the overview. Only administrators can.';
      } else {
        status.textContent = `The overview could not be loaded: ${err.message}`;
      }
      content.replaceChildren();
      return;
    }
    status.hidden = true;
    replace(content, ...sections(overview));
  }

  load();
}

function sections(o) {
  const days = o.daily.length;
  const last = o.daily.length ? o.daily[o.daily.length - 1].day : '';
  const period = h('p', { class: 'hint', 'data-testid': 'overview-period' }, `${days} days, ${o.daily[0]?.day || ''} to ${last}.`);
  const figures = h(
    'dl',
    { class: 'figures', 'data-testid': 'overview-figures' },
    figure('sold', 'Tokens sold', number(o.sales.tokens), `${o.sales.count} ${plural(o.sales.count, 'purchase')}`),
    figure('revenue', 'Revenue', moneyList(o.revenue), 'before refunds'),
    figure('spent', 'Tokens spent', number(o.spent.tokens), 'net of chats given back'),
    figure('active', 'Active users', number(o.active_users), 'with a chat charged'),
    figure('chat-refunds', 'Chats given back', number(o.chat_refunds.count), 'the upstream failed'),
    figure('refunds', 'Refunds', number(o.reversals.refunds.count), `${number(o.reversals.refunds.tokens)} tokens taken back`),
    figure(
      'disputes',
      'Disputes',
      number(o.reversals.disputes.count),
      `${number(o.reversals.disputes.tokens)} tokens taken back, ${number(o.reversals.disputes_won.tokens)} given back`,
    ),
    figure('shortfall', 'Already spent when refunded', number(o.reversals.shortfall), 'tokens'),
    figure('grants', 'Granted', number(o.grants.tokens), `${o.grants.count} ${plural(o.grants.count, 'grant')}`),
    figure('liability-tokens', 'Unspent tokens', number(o.liability.tokens), `at ${o.liability.at.slice(0, 16).replace('T', ' ')} UTC`),
    figure(
      'liability-value',
      'Their value',
      moneyList(o.liability.value),
      `${number(o.liability.paid_tokens)} bought, ${number(o.liability.free_tokens)} free`,
    ),
  );
  return [
    period,
    figures,
    h(
      'div',
      { class: 'charts' },
      dailyChart(o.daily),
      barChart(
        'service',
        'Tokens spent by service',
        o.spent.by_service.map((s) => ({ label: SERVICE_NAMES[s.service_type] || s.service_type, value: s.tokens })),
      ),
      barChart(
        'domain',
        'AskDocs tokens spent by domain',
        o.spent.by_domain.map((d) => ({ label: d.display_name || d.name || 'a removed domain', value: d.tokens })),
      ),
      barChart(
        'package',
        'Tokens sold by package',
        o.sales.by_package.map((p) => ({
          label: `${p.package} tokens`,
          value: p.tokens,
          note: `${p.count} sold, ${money(p.amount_cents, p.currency)}`,
        })),
      ),
      barChart('liability', 'Unspent tokens at the end', [
        { label: 'Bought', value: o.liability.paid_tokens, note: moneyList(o.liability.value) },
        { label: 'Free', value: o.liability.free_tokens, note: 'grants and trial tokens, worth 0' },
      ]),
    ),
  ];
}

function figure(id, term, value, note) {
  return h(
    'div',
    { class: 'figure', 'data-testid': `figure-${id}` },
    h('dt', {}, term),
    h('dd', { class: 'number' }, value),
    note ? h('dd', { class: 'hint' }, note) : null,
  );
}

function svgEl(tag, attrs = {}, text = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== null) el.textContent = text;
  return el;
}

/** Two bars a day, tokens sold and tokens spent, each on its own scale. */
function dailyChart(daily) {
  const width = 640;
  const height = 160;
  const slot = width / Math.max(1, daily.length);
  const topSold = Math.max(1, ...daily.map((d) => d.sold));
  const topSpent = Math.max(1, ...daily.map((d) => d.spent));
  const totalSold = daily.reduce((a, d) => a + d.sold, 0);
  const totalSpent = daily.reduce((a, d) => a + d.spent, 0);
  const titleId = 'chart-daily-title';
  const svg = svgEl('svg', {
    viewBox: `0 0 ${width} ${height + 20}`,
    role: 'img',
    'aria-labelledby': titleId,
  });
  svg.append(
    svgEl('title', { id: titleId }, `Tokens sold and spent per day: ${totalSold} sold, ${totalSpent} spent in ${daily.length} days`),
  );
  daily.forEach((d, i) => {
    const bar = (value, top, colour, offset, what) => {
      if (value <= 0) return;
      const barHeight = Math.max(1, (value / top) * height);
      const rect = svgEl('rect', {
        x: i * slot + offset,
        y: height - barHeight,
        width: Math.max(1, slot / 2 - 1),
        height: barHeight,
        fill: COLOURS[colour],
        'data-day': d.day,
        'data-series': what,
      });
      rect.append(svgEl('title', {}, `${d.day}: ${value} ${plural(value, 'token')} ${what}`));
      svg.append(rect);
    };
    bar(d.sold, topSold, SOLD, 0.5, 'sold');
    bar(d.spent, topSpent, SPENT, slot / 2, 'spent');
  });
  if (daily.length) {
    svg.append(svgEl('text', { x: 0, y: height + 15, 'font-size': 11, 'text-anchor': 'start' }, daily[0].day));
    svg.append(svgEl('text', { x: width, y: height + 15, 'font-size': 11, 'text-anchor': 'end' }, daily[daily.length - 1].day));
  }
  return h(
    'figure',
    { class: 'chart chart-wide', 'data-testid': 'overview-chart-daily' },
    svg,
    h(
      'figcaption',
      {},
      'Tokens sold and spent per day (each on its own scale).',
      h(
        'ul',
        { class: 'legend' },
        h('li', {}, h('span', { class: 'swatch', dataset: { colour: String(SOLD) } }), `Sold: ${number(totalSold)}`),
        h('li', {}, h('span', { class: 'swatch', dataset: { colour: String(SPENT) } }), `Spent: ${number(totalSpent)}`),
      ),
    ),
  );
}

/** A horizontal bar per item, its label and value written beside it. */
function barChart(id, title, items) {
  const width = 320;
  const row = 26;
  const labelWidth = 120;
  const top = Math.max(1, ...items.map((i) => i.value));
  const titleId = `chart-${id}-title`;
  const summary = items.length ? items.map((i) => `${i.label}: ${i.value}`).join(', ') : 'nothing';
  const svg = svgEl('svg', {
    viewBox: `0 0 ${width} ${Math.max(1, items.length) * row}`,
    role: 'img',
    'aria-labelledby': titleId,
  });
  svg.append(svgEl('title', { id: titleId }, `${title}: ${summary}`));
  items.forEach((item, i) => {
    const y = i * row;
    const barWidth = Math.max(item.value > 0 ? 2 : 0, (item.value / top) * (width - labelWidth - 40));
    svg.append(svgEl('text', { x: 0, y: y + 17, 'font-size': 13 }, short(item.label)));
    const rect = svgEl('rect', { x: labelWidth, y: y + 5, width: barWidth, height: row - 10, fill: COLOURS[i % COLOURS.length] });
    rect.append(svgEl('title', {}, `${item.label}: ${item.value}${item.note ? ` (${item.note})` : ''}`));
    svg.append(rect);
    svg.append(svgEl('text', { x: labelWidth + barWidth + 6, y: y + 17, 'font-size': 13, class: 'value' }, number(item.value)));
  });
  return h(
    'figure',
    { class: 'chart', 'data-testid': `overview-chart-${id}` },
    h('figcaption', {}, title),
    items.length ? svg : h('p', { class: 'empty' }, 'Nothing in this period.'),
    items.some((i) => i.note)
      ? h(
          'ul',
          { class: 'legend' },
          items.map((item, i) =>
            h('li', {}, h('span', { class: 'swatch', dataset: { colour: String(i % COLOURS.length) } }), `${item.label}: ${item.note}`),
          ),
        )
      : null,
  );
}

/** A label that fits beside its bar (the bar's title has it whole). */
function short(label) {
  return label.length > 16 ? `${label.slice(0, 15)}…` : label;
}

const numberFormat = new Intl.NumberFormat();

function number(n) {
  return numberFormat.format(n);
}

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

function moneyList(amounts) {
  return amounts.length ? amounts.map((m) => money(m.amount_cents, m.currency)).join(' + ') : money(0, 'usd');
}

function plural(n, word) {
  return n === 1 ? word : `${word}s`;
}
