// Small DOM helpers. Text always goes in as text nodes: nothing here parses HTML,
// so no string from the server or a model can become markup.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<Event>` handlers,
 * `dataset`, boolean attributes (true/false) and plain attributes.
 * Children are nodes, strings (as text) or arrays of those; null is skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An in-app link: navigation is handled by the router, not a page load. */
export function link(href, text, attrs = {}) {
  return h('a', { href, 'data-link': true, ...attrs }, text);
}

/** A labelled form field. `control` is the input/select/textarea element. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  const describedBy = [hintEl?.id, error.id].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', describedBy);
  return h('div', { class: 'field' }, h('label', { for: id }, label), hintEl, control, error);
}

/** Shows (or with an empty message, clears) the error under a field's control. */
export function setFieldError(control, message) {
  const error = document.getElementById(`${control.id}-error`);
  if (!error) return;
  error.textContent = message || '';
  error.hidden = !message;
  if (message) control.setAttribute('aria-invalid', 'true');
  else control.removeAttribute('aria-invalid');
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
}

export const SERVICE_NAMES = { askatt: 'AskAT&T', askdocs: 'AskDocs' };

/**
 * Asks before something that cannot be undone. Resolves to true when the user
 * chooses `confirmLabel`, false on Cancel or Escape. Cancel has the focus, so
 * a stray Enter never deletes anything.
 */
export function confirmAction({ title, message, confirmLabel }) {
  return new Promise((resolve) => {
    const titleId = `confirm-${Math.random().toString(36).slice(2, 9)}`;
    const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'button danger' }, confirmLabel);
    const dialog = h(
      'dialog',
      { class: 'confirm', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      h('div', { class: 'actions' }, cancel, confirm),
    );
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener('click', () => close(false));
    confirm.addEventListener('click', () => close(true));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
