// The app shell: client-side routing, the header (navigation, balance, sign
// out) and the session guard. Every page is a module exporting
// `render(view, ctx)`, which may return a function to call when leaving.

import { currentUser, loadUiConfig, onSessionExpired, onUserChange, restoreSession, signOut } from './api.js';
import { h, link, replace } from './dom.js';
import * as adminApps from './pages/admin-apps.js';
import * as adminAudit from './pages/admin-audit.js';
import * as adminOverview from './pages/admin-overview.js';
import * as adminUsers from './pages/admin-users.js';
import * as apiKeys from './pages/api-keys.js';
import * as buy from './pages/buy.js';
import * as chat from './pages/chat.js';
import * as connect from './pages/connect.js';
import * as device from './pages/device.js';
import * as domains from './pages/domains.js';
import * as profile from './pages/profile.js';
import * as purchase from './pages/purchase.js';
import * as signin from './pages/signin.js';
import * as usage from './pages/usage.js';

const ROUTES = {
  '/signin': { page: signin, title: 'Sign in', public: true },
  '/chat': { page: chat, title: 'Chat' },
  '/buy': { page: buy, title: 'Buy tokens' },
  '/purchase/success': { page: purchase.success, title: 'Payment received' },
  '/purchase/cancel': { page: purchase.cancel, title: 'Payment cancelled', public: true },
  '/profile': { page: profile, title: 'Profile' },
  '/device': { page: device, title: 'Sign in a device' },
  '/connect': { page: connect, title: 'Sign in to an app' },
  '/usage': { page: usage, title: 'Usage' },
  '/api-keys': { page: apiKeys, title: 'API keys' },
  '/admin/overview': { page: adminOverview, title: 'Overview' },
  '/admin/domains': { page: domains, title: 'Domains' },
  '/admin/users': { page: adminUsers, title: 'Users' },
  '/admin/audit': { page: adminAudit, title: 'Audit log' },
  '/admin/apps': { page: adminApps, title: 'Apps' },
};

const NAV = [
  { href: '/chat', text: 'Chat' },
  { href: '/buy', text: 'Buy tokens' },
  { href: '/usage', text: 'Usage' },
  { href: '/api-keys', text: 'API keys' },
  { href: '/profile', text: 'Profile' },
  { href: '/admin/overview', text: 'Overview', admin: true },
  { href: '/admin/domains', text: 'Domains', admin: true },
  { href: '/admin/users', text: 'Users', admin: true },
  { href: '/admin/audit', text: 'Audit', admin: true },
  { href: '/admin/apps', text: 'Apps', admin: true },
];

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
const nav = document.getElementById('nav');
const balance = document.getElementById('balance');
const lowBalance = h(
  'p',
  { class: 'notice low-balance', role: 'status', 'data-testid': 'low-balance', hidden: true },
  'Your balance is running low. ',
  link('/buy', 'Buy tokens'),
);
topbar.after(lowBalance);

// The balance at or below which the notice shows (`LOW_BALANCE_TOKENS`).
let lowBalanceAt = 5;
loadUiConfig()
  .then((config) => {
    if (typeof config.low_balance_tokens === 'number') lowBalanceAt = config.low_balance_tokens;
    showBalance(currentUser());
  })
  .catch(() => {
    // Without the configuration the default threshold stays.
  });

/** The balance in the header, and the low-balance notice when it is due. */
function showBalance(user) {
  lowBalance.hidden = !user || user.tokens > lowBalanceAt;
  if (user) balance.textContent = String(user.tokens);
}

let leave = null;
let firstRender = true;
let flash = null;

/** Goes to an in-app path. `message` is shown on the sign-in page. */
export function navigate(path, { replace: replaceEntry = false, message = null } = {}) {
  if (message) flash = message;
  if (replaceEntry) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function render() {
  if (leave) {
    try {
      leave();
    } catch {
      // A page's cleanup must not stop the next page from showing.
    }
    leave = null;
  }
  const url = new URL(location.href);
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const user = currentUser();

  if (path === '/') {
    navigate(user ? '/chat' : '/signin', { replace: true });
    return;
  }
  const route = ROUTES[path];
  if (!route) {
    showNotFound();
    return;
  }
  if (!route.public && !user) {
    const back = path + url.search;
    navigate(`/signin?return_to=${encodeURIComponent(back)}`, { replace: true });
    return;
  }
  if (path === '/signin' && user) {
    navigate(safeReturnPath(url.searchParams.get('return_to')), { replace: true });
    return;
  }

  updateHeader(user);
  document.title = `${route.title} · askgate`;
  const view = h('div', { class: `view view-${path.slice(1).replace(/\//g, '-')}` });
  replace(main, view);
  const message = flash;
  flash = null;
  const cleanup = route.page.render(view, {
    navigate,
    params: url.searchParams,
    user,
    message,
    returnTo: safeReturnPath(url.searchParams.get('return_to')),
  });
  if (typeof cleanup === 'function') leave = cleanup;
  if (!firstRender) focusHeading(view);
  firstRender = false;
}

function focusHeading(view) {
  const heading = view.querySelector('h1');
  const target = heading || main;
  if (heading) heading.setAttribute('tabindex', '-1');
  target.focus({ preventScroll: false });
}

function showNotFound() {
  updateHeader(currentUser());
  document.title = 'Not found · askgate';
  replace(main, h('div', { class: 'view' }, h('h1', {}, 'Page not found'), h('p', {}, link('/chat', 'Go to the chat'))));
}

/** Only same-site paths are followed after sign-in (no open redirect). */
export function safeReturnPath(value) {
  if (value?.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\')) {
    return value;
  }
  return '/chat';
}

function updateHeader(user) {
  topbar.hidden = !user;
  showBalance(user);
  if (!user) return;
  const current = location.pathname;
  replace(
    nav,
    NAV.filter((item) => !item.admin || user.role === 'admin').map((item) =>
      h('li', {}, link(item.href, item.text, { 'aria-current': current === item.href ? 'page' : null })),
    ),
  );
}

// In-app links navigate without a page load.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.target.closest('a[data-link]');
  if (!a || a.origin !== location.origin) return;
  event.preventDefault();
  if (a.pathname + a.search !== location.pathname + location.search) navigate(a.pathname + a.search);
});

window.addEventListener('popstate', render);

document.getElementById('signout').addEventListener('click', async () => {
  try {
    await signOut();
  } finally {
    navigate('/signin', { message: 'You are signed out.' });
  }
});

onUserChange(showBalance);

onSessionExpired((message) => navigate('/signin', { message }));

restoreSession().finally(render);
