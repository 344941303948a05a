// Profile: who is signed in, their role and balance.

import { request, setBalance } from '../api.js';
import { formatDate, h, link, replace } from '../dom.js';

export function render(view) {
  const details = h('div', {}, h('p', { class: 'loading' }, 'Loading your profile…'));
  view.append(h('section', { class: 'card narrow' }, h('h1', {}, 'Profile'), details));
  show(details);
}

async function show(details) {
  let me;
  try {
    me = await request('/api/user/me');
  } catch (err) {
    replace(details, h('p', { class: 'error', role: 'alert' }, `Your profile could not be loaded: ${err.message}`));
    return;
  }
  setBalance(me.tokens);
  const rows = [
    ['Name', me.display_name || '—'],
    ['Email', me.email],
    ['Role', me.role === 'admin' ? 'Administrator' : 'User'],
    ['Balance', `${me.tokens} token${me.tokens === 1 ? '' : 's'}`],
  ];
  if (me.created_at) rows.push(['Member since', formatDate(me.created_at)]);
  if (me.last_login) rows.push(['Last sign-in', formatDate(me.last_login)]);
  replace(
    details,
    h(
      'dl',
      { class: 'profile' },
      rows.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
    h(
      'p',
      { class: 'actions' },
      link('/buy', 'Buy tokens', { class: 'button primary' }),
      ' ',
      link('/usage', 'See your usage', { class: 'button secondary' }),
    ),
  );
}
