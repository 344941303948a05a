// Chat with AskAT&T or an AskDocs domain. Answers are rendered as Markdown
// built from DOM nodes (markdown.js): model output never becomes markup.

import { newIdempotencyKey, request, setBalance } from '../api.js';
import { confirmAction, field, formatDate, h, link, replace, SERVICE_NAMES } from '../dom.js';
import { render as renderMarkdown } from '../markdown.js';

const PAGE_SIZE = 20;

export function render(view, _ctx) {
  const state = {
    conversationId: null,
    domains: null,
    nextCursor: null,
    sending: false,
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
  const composer = h(
    'form',
    { class: 'composer', 'aria-label': 'Ask a question' },
    field('Message', input, 'Enter sends; Shift+Enter starts a new line.'),
    h('div', { class: 'composer-actions' }, status, send),
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
    try {
      const answer = await request(`/api/${service.value}/chat`, {
        method: 'POST',
        body,
        headers: { 'Idempotency-Key': newIdempotencyKey() },
      });
      // `domain_name` is the slug; people chose the domain by its display name.
      const who = askdocs ? `AskDocs · ${selectedDomainName() || answer.domain_name}` : SERVICE_NAMES.askatt;
      addMessage('assistant', who, answer.response);
      setBalance(answer.tokens_remaining);
      const isNew = answer.conversation_id && answer.conversation_id !== state.conversationId;
      state.conversationId = answer.conversation_id || state.conversationId;
      if (isNew) loadConversations();
      else markCurrent();
    } catch (err) {
      mine.classList.add('failed');
      mine.append(h('p', { class: 'message-note' }, 'Not sent'));
      input.value = text;
      showProblem(err);
    } finally {
      state.sending = false;
      send.disabled = false;
      status.textContent = '';
    }
  });

  newConversation.addEventListener('click', () => {
    startNew();
    input.focus();
  });

  more.addEventListener('click', () => loadConversations(state.nextCursor));

  function selectedDomainName() {
    return domain.selectedOptions[0]?.textContent || '';
  }

  function addMessage(author, who, text) {
    empty.hidden = true;
    // The question is shown as typed; the answer as the Markdown it is written in.
    const body =
      author === 'assistant' ? h('div', { class: 'message-text markdown' }, renderMarkdown(text)) : h('p', { class: 'message-text', text });
    const item = h('li', { class: `message ${author}` }, h('p', { class: 'message-author' }, who), body);
    messages.append(item);
    item.scrollIntoView({ block: 'nearest' });
    return item;
  }

  function startNew() {
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
      addMessage(m.author === 'user' ? 'user' : 'assistant', m.author === 'user' ? 'You' : assistant, m.content);
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
}
