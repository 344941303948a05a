// Chat with AskAT&T or an AskDocs domain. Answers stream in (api.js
// chatStream) and are rendered as Markdown built from DOM nodes (markdown.js):
// model output never becomes markup.

import { chatStream, currentUser, newIdempotencyKey, request, setBalance } from '../api.js';
import { confirmAction, field, formatDate, h, link, replace, SERVICE_NAMES } from '../dom.js';
import { render as renderMarkdown } from '../markdown.js';

const PAGE_SIZE = 20;

export function render(view, _ctx) {
  const state = {
    conversationId: null,
    domains: null,
    nextCursor: null,
    sending: false,
    // The answer being streamed (see the submit handler).
    streaming: null,
  };

  // Controls.
  const service = h(
    'select',
    { id: 'service', name: 'service' },
    h('option', { value: 'askatt' }, SERVICE_NAMES.askatt),
    h('option', { value: 'askdocs' }, SERVICE_NAMES.askdocs),
  );
  const domain = h('select', { id: 'domain', name: 'domain_id', disabled: true }, h('option', { value: '' }, 'Loading domains…'));
  const domainField = field('Domain', domain);
  domainField.hidden = true;

  const messages = h('ol', { class: 'messages', id: 'messages', 'aria-label': 'Conversation history', 'aria-live': 'polite' });
  const empty = h('p', { class: 'empty', id: 'messages-empty' }, 'Ask a question to start a conversation. Each answer costs one token.');
  const alert = h('div', { class: 'chat-alert', id: 'chat-alert', role: 'alert' });
  const status = h('p', { class: 'status', role: 'status' });

  const input = h('textarea', { id: 'message', name: 'message', rows: 3, maxlength: 8000, required: true });
  const send = h('button', { type: 'submit', class: 'button primary', id: 'send' }, 'Send');
  const stop = h('button', { type: 'button', class: 'button danger', id: 'stop', hidden: true }, 'Stop');
  const composer = h(
    'form',
    { class: 'composer', 'aria-label': 'Ask a question' },
    field('Message', input, 'Enter sends; Shift+Enter starts a new line.'),
    h('div', { class: 'composer-actions' }, status, stop, send),
    h(
      'p',
      { class: 'hint charging-help', id: 'charging-help' },
      'Each answer costs one token, taken when the answer starts. If the AI service fails, the token is given back ' +
        '(any part of the answer already shown is kept). Stop ends the answer: once text has arrived the token is ' +
        'spent and the partial answer is kept; stopping before any text arrives costs nothing.',
    ),
  );

  const list = h('ul', { class: 'conversation-list', id: 'conversations' });
  const more = h('button', { type: 'button', class: 'button secondary small', hidden: true }, 'Show older');
  const newConversation = h('button', { type: 'button', class: 'button secondary small', id: 'new-conversation' }, 'New conversation');

  view.append(
    h(
      'div',
      { class: 'chat-layout' },
      h(
        'aside',
        { class: 'card conversations', 'aria-labelledby': 'conversations-title' },
        h('div', { class: 'aside-head' }, h('h2', { id: 'conversations-title' }, 'Conversations'), newConversation),
        list,
        more,
      ),
      h(
        'section',
        { class: 'card chat', 'aria-labelledby': 'chat-title' },
        h('h1', { id: 'chat-title' }, 'Chat'),
        h('div', { class: 'chat-controls' }, field('Service', service), domainField),
        empty,
        messages,
        alert,
        composer,
      ),
    ),
  );

  // Behaviour.
  service.addEventListener('change', () => {
    startNew();
    showDomainChoice();
  });

  async function showDomainChoice() {
    const askdocs = service.value === 'askdocs';
    domainField.hidden = !askdocs;
    if (!askdocs || state.domains) return;
    try {
      state.domains = (await request('/api/domains')).filter((d) => d.is_active !== false);
    } catch (err) {
      replace(domain, h('option', { value: '' }, 'Domains unavailable'));
      showAlert(h('p', {}, `The domains could not be loaded: ${err.message}`));
      return;
    }
    if (state.domains.length === 0) {
      replace(domain, h('option', { value: '' }, 'No domains yet'));
      return;
    }
    replace(
      domain,
      state.domains.map((d) => h('option', { value: d.id }, d.display_name || d.name)),
    );
    domain.disabled = false;
  }

  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  composer.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value;
    if (state.sending || !text.trim()) return;
    const askdocs = service.value === 'askdocs';
    if (askdocs && !domain.value) {
      showAlert(h('p', {}, 'Choose a domain to ask AskDocs.'));
      domain.focus();
      return;
    }
    clearAlert();
    for (const failed of messages.querySelectorAll('.message.failed')) failed.remove();
    state.sending = true;
    send.disabled = true;
    status.textContent = 'Waiting for the answer…';
    const mine = addMessage('user', 'You', text);
    input.value = '';

    const body = { message: text };
    if (state.conversationId) body.conversation_id = state.conversationId;
    if (askdocs) body.domain_id = domain.value;
    const docsName = selectedDomainName();
    const streaming = {
      controller: new AbortController(),
      // `domain_name` is the slug; people chose the domain by its display name.
      who: (slug) => (askdocs ? `AskDocs · ${docsName || slug}` : SERVICE_NAMES.askatt),
      // The text so far, and the bubble showing it (from `start` on).
      text: '',
      answer: null,
      // The balance before the token was held, to show again if Stop comes before any text.
      heldFrom: null,
      // Set when the user went to another conversation: the answer is no longer shown.
      left: false,
      // Whether `start` named a conversation not shown before.
      newConversation: false,
    };
    state.streaming = streaming;
    stop.hidden = false;
    let last = null;
    try {
      last = await chatStream(`/api/${service.value}/chat`, body, {
        signal: streaming.controller.signal,
        idempotencyKey: newIdempotencyKey(),
        onEvent: ({ event, data }) => onStreamEvent(streaming, event, data),
      });
    } catch (err) {
      if (streaming.controller.signal.aborted) {
        stopped(streaming, mine, text);
      } else if (streaming.text) {
        // The connection broke mid-answer: the server keeps what was sent, marked interrupted.
        streaming.answer.finish();
        streaming.answer.note('Interrupted: the connection was lost. The part shown is kept in the conversation.');
      } else {
        streaming.answer?.remove();
        notSent(mine, text);
        showProblem(err);
      }
    } finally {
      state.sending = false;
      state.streaming = null;
      send.disabled = false;
      stop.hidden = true;
      status.textContent = '';
    }
    if (last?.event === 'done') {
      streaming.answer?.finish();
      if (streaming.newConversation) loadConversations();
    } else if (last?.event === 'error') streamFailed(streaming, mine, text, last.data);
  });

  stop.addEventListener('click', () => {
    state.streaming?.controller.abort();
    input.focus();
  });

  function onStreamEvent(streaming, event, data) {
    switch (event) {
      case 'start': {
        status.textContent = 'Answering…';
        if (typeof data.tokens_remaining === 'number') streaming.heldFrom = data.tokens_remaining + 1;
        streaming.answer = addAnswer(streaming.who(data.domain_name));
        // A new conversation is listed once its answer is stored, at the end.
        streaming.newConversation = Boolean(data.conversation_id && data.conversation_id !== state.conversationId);
        state.conversationId = data.conversation_id || state.conversationId;
        markCurrent();
        break;
      }
      case 'delta':
        if (typeof data.text !== 'string') break;
        streaming.text += data.text;
        streaming.answer?.show(streaming.text);
        break;
      case 'sources':
        if (Array.isArray(data.sources)) streaming.answer?.sources(data.sources);
        break;
      default:
      // `done` and `error` end the stream; the submit handler finishes the answer.
    }
  }

  /** After Stop: what arrived stays, and the marker says what it cost. */
  function stopped(streaming, mine, text) {
    if (streaming.left) {
      if (!streaming.text) restoreHeldToken(streaming);
      return;
    }
    if (streaming.text) {
      streaming.answer.finish();
      streaming.answer.marker('Stopped — the token was spent');
      loadConversations();
      return;
    }
    // Nothing arrived, so the server gives the token back and keeps nothing.
    streaming.answer?.remove();
    restoreHeldToken(streaming);
    notSent(mine, text, 'Stopped — nothing was charged');
  }

  /** Shows the token held at `start` as given back (the server refunds it when no text was sent). */
  function restoreHeldToken(streaming) {
    if (streaming.heldFrom !== null && currentUser()?.tokens === streaming.heldFrom - 1) setBalance(streaming.heldFrom);
  }

  /** An `error` event: says why, and whether the token came back and the text was kept. */
  function streamFailed(streaming, mine, text, problem) {
    const refund = problem.refunded ? 'Your token was given back.' : 'The token was spent.';
    const detail = problem.detail || problem.title || 'The AI service failed.';
    if (streaming.text && problem.partial_kept !== false) {
      streaming.answer.finish();
      streaming.answer.marker('Interrupted');
      streaming.answer.note(`${detail} ${refund} The part shown is kept in the conversation.`);
      loadConversations();
      return;
    }
    streaming.answer?.remove();
    notSent(mine, text, 'Not answered');
    showAlert(h('p', { class: 'alert-title' }, `${detail} ${refund}`), h('p', {}, 'Nothing was kept; your question is still in the box.'));
  }

  /** Marks the question as not answered and puts it back in the box. */
  function notSent(mine, text, why = 'Not sent') {
    mine.classList.add('failed');
    mine.append(h('p', { class: 'message-note' }, why));
    if (!input.value) input.value = text;
  }

  newConversation.addEventListener('click', () => {
    startNew();
    input.focus();
  });

  more.addEventListener('click', () => loadConversations(state.nextCursor));

  function selectedDomainName() {
    return domain.selectedOptions[0]?.textContent || '';
  }

  function addMessage(author, who, text, { interrupted = false } = {}) {
    empty.hidden = true;
    // The question is shown as typed; the answer as the Markdown it is written in.
    const body =
      author === 'assistant' ? h('div', { class: 'message-text markdown' }, renderMarkdown(text)) : h('p', { class: 'message-text', text });
    const item = h(
      'li',
      { class: `message ${author}` },
      h('p', { class: 'message-author' }, who, interrupted ? interruptedMarker('Interrupted') : null),
      body,
    );
    messages.append(item);
    item.scrollIntoView({ block: 'nearest' });
    return item;
  }

  /**
   * The bubble of an answer that is still arriving. `show(text)` renders the
   * text so far, at most once per frame however fast the deltas come.
   */
  function addAnswer(who) {
    const item = addMessage('assistant', who, '');
    item.classList.add('streaming');
    item.setAttribute('aria-busy', 'true');
    const author = item.querySelector('.message-author');
    const body = item.querySelector('.message-text');
    let pending = null;
    let frame = null;
    const draw = () => {
      frame = null;
      replace(body, renderMarkdown(pending));
      item.scrollIntoView({ block: 'nearest' });
    };
    return {
      show(text) {
        pending = text;
        frame ??= requestAnimationFrame(draw);
      },
      finish() {
        if (frame !== null) cancelAnimationFrame(frame);
        if (pending !== null) draw();
        item.classList.remove('streaming');
        item.removeAttribute('aria-busy');
      },
      sources(list) {
        const shown = sourceList(list);
        if (shown) item.querySelector('.sources')?.remove();
        if (shown) item.append(shown);
      },
      marker(text) {
        author.append(interruptedMarker(text));
      },
      note(text) {
        item.append(h('p', { class: 'message-note' }, text));
      },
      remove() {
        if (frame !== null) cancelAnimationFrame(frame);
        item.remove();
        empty.hidden = messages.children.length > 0;
      },
    };
  }

  /** Another conversation is shown: an answer still arriving ends, as with Stop. */
  function leaveStream() {
    if (!state.streaming) return;
    state.streaming.left = true;
    state.streaming.controller.abort();
  }

  function startNew() {
    leaveStream();
    state.conversationId = null;
    messages.replaceChildren();
    empty.hidden = false;
    clearAlert();
    markCurrent();
  }

  function showAlert(...children) {
    replace(alert, ...children);
  }

  function clearAlert() {
    alert.replaceChildren();
  }

  function showProblem(err) {
    switch (err.status) {
      case 402:
        if (err.balance !== null) setBalance(err.balance);
        showAlert(
          h('p', { class: 'alert-title' }, 'You are out of tokens.'),
          h('p', {}, 'Buy tokens to keep asking; your question is still in the box.'),
          link('/buy', 'Buy tokens', { class: 'button primary', id: 'buy-tokens' }),
        );
        break;
      case 429: {
        const seconds = err.retryAfter ?? 60;
        const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString();
        showAlert(
          h('p', { class: 'alert-title' }, 'Too many questions at once.'),
          h('p', {}, `You can retry in ${seconds} second${seconds === 1 ? '' : 's'} (at ${at}).`),
        );
        break;
      }
      case 502:
      case 504:
        showAlert(
          h('p', { class: 'alert-title' }, 'The AI service failed; your token was not charged.'),
          h('p', {}, 'Please try again in a moment.'),
        );
        break;
      default:
        showAlert(h('p', {}, err.message));
    }
  }

  async function loadConversations(cursor) {
    let page;
    try {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (cursor) query.set('cursor', cursor);
      page = await request(`/api/conversations?${query}`);
    } catch (err) {
      replace(list, h('li', { class: 'empty' }, `Conversations could not be loaded: ${err.message}`));
      return;
    }
    const items = page.items.map(conversationItem);
    if (cursor) list.append(...items);
    else if (items.length) replace(list, items);
    else replace(list, h('li', { class: 'empty' }, 'No conversations yet.'));
    state.nextCursor = page.next_cursor || null;
    more.hidden = !state.nextCursor;
    markCurrent();
  }

  function conversationItem(c) {
    const title = c.title || 'Untitled conversation';
    const open = h(
      'button',
      { type: 'button', class: 'conversation-open', onClick: () => openConversation(c) },
      h('span', { class: 'conversation-title' }, title),
      h(
        'span',
        { class: 'conversation-meta' },
        `${SERVICE_NAMES[c.service_type] || c.service_type} · ${formatDate(c.updated_at || c.created_at)}`,
        c.interrupted ? interruptedMarker('Interrupted', 'The latest answer was cut off') : null,
      ),
    );
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'icon-button',
        'aria-label': `Delete conversation: ${title}`,
        title: 'Delete',
        onClick: () => deleteConversation(c, item),
      },
      '×',
    );
    const item = h('li', { dataset: { id: c.id } }, open, remove);
    return item;
  }

  function markCurrent() {
    for (const li of list.querySelectorAll('li[data-id]')) {
      const button = li.querySelector('.conversation-open');
      if (li.dataset.id === state.conversationId) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  async function openConversation(c) {
    leaveStream();
    clearAlert();
    let data;
    try {
      data = await request(`/api/conversations/${encodeURIComponent(c.id)}`);
    } catch (err) {
      showAlert(h('p', {}, `The conversation could not be opened: ${err.message}`));
      return;
    }
    const conversation = data.conversation || c;
    service.value = conversation.service_type === 'askdocs' ? 'askdocs' : 'askatt';
    await showDomainChoice();
    if (conversation.domain_id) domain.value = conversation.domain_id;
    messages.replaceChildren();
    state.conversationId = conversation.id;
    const docsName = selectedDomainName();
    const assistant = conversation.service_type === 'askdocs' ? `AskDocs${docsName ? ` · ${docsName}` : ''}` : SERVICE_NAMES.askatt;
    for (const m of data.messages || []) {
      addMessage(m.author === 'user' ? 'user' : 'assistant', m.author === 'user' ? 'You' : assistant, m.content, {
        interrupted: m.interrupted === true,
      });
    }
    empty.hidden = messages.children.length > 0;
    markCurrent();
    input.focus();
  }

  async function deleteConversation(c, item) {
    const sure = await confirmAction({
      title: 'Delete this conversation?',
      message: `“${c.title || 'Untitled conversation'}” and all its messages will be deleted. This cannot be undone; the tokens it used are not given back.`,
      confirmLabel: 'Delete conversation',
    });
    if (!sure) return;
    try {
      await request(`/api/conversations/${encodeURIComponent(c.id)}`, { method: 'DELETE' });
    } catch (err) {
      showAlert(h('p', {}, `The conversation could not be deleted: ${err.message}`));
      return;
    }
    item.remove();
    if (state.conversationId === c.id) startNew();
    if (!list.querySelector('li[data-id]')) replace(list, h('li', { class: 'empty' }, 'No conversations yet.'));
    newConversation.focus();
  }

  loadConversations();
  input.focus();
  // Leaving the page ends an answer still arriving, as Stop does.
  return leaveStream;
}

/** A small label on a message or conversation: "Interrupted", "Stopped — …". */
function interruptedMarker(text, title) {
  return h('span', { class: 'marker interrupted', title: title || null }, text);
}

// Sources are whatever the upstream sent; these are the fields read from each.
const SOURCE_TITLE = ['title', 'name', 'document', 'file', 'url'];
const SOURCE_LINK = ['url', 'link', 'href', 'source'];

/** An AskDocs answer's sources: a title each, a link when it is http or https. */
function sourceList(sources) {
  const items = sources.filter((s) => s && typeof s === 'object').map(sourceItem);
  if (!items.length) return null;
  return h('div', { class: 'sources' }, h('p', { class: 'sources-title' }, 'Sources'), h('ul', {}, items));
}

function sourceItem(source) {
  const title = SOURCE_TITLE.map((k) => source[k]).find((v) => typeof v === 'string' && v.trim()) || 'Untitled source';
  const href = SOURCE_LINK.map((k) => source[k]).find(safeLink);
  return h('li', {}, href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, title) : title);
}

function safeLink(value) {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
