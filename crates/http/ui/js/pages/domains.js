// Domain admin: list, add, edit, deactivate and delete AskDocs domains.
// The API decides who may: anyone else gets 403 and this page says so.

import { request } from '../api.js';
import { confirmAction, field, h, replace, setFieldError } from '../dom.js';

const KINDS = [
  ['', 'Default (AskDocs API)'],
  ['askdocs', 'AskDocs API'],
  ['openai', 'OpenAI-compatible'],
  ['builtin', 'Built-in demo'],
];

export function render(view) {
  const status = h('p', { class: 'status', role: 'status', id: 'domains-status' });
  const content = h('div', {}, h('p', { class: 'loading' }, 'Loading domains…'));
  view.append(h('section', { class: 'card' }, h('h1', {}, 'Domains'), status, content));

  let domains = [];

  async function load() {
    try {
      domains = await request('/api/domains?include_inactive=true');
    } catch (err) {
      if (err.status === 403) {
        replace(
          content,
          h('p', { class: 'error', role: 'alert', id: 'not-allowed' }, 'You are not allowed to manage domains. Only administrators can.'),
        );
      } else {
        replace(content, h('p', { class: 'error', role: 'alert' }, `The domains could not be loaded: ${err.message}`));
      }
      return false;
    }
    showList();
    return true;
  }

  function showList() {
    const add = h('button', { type: 'button', class: 'button primary', id: 'add-domain', onClick: () => showForm(null) }, 'Add a domain');
    const rows = domains.map((d) => {
      const kind = d.configuration?.kind || '';
      return h(
        'tr',
        { dataset: { name: d.name } },
        h('td', {}, h('strong', {}, d.display_name), h('br'), h('code', {}, d.name)),
        h('td', {}, KINDS.find(([k]) => k === kind)?.[1] || kind),
        h('td', { class: 'endpoint' }, d.api_endpoint || '—'),
        h('td', { class: 'access' }, d.allowed_roles?.length ? d.allowed_roles.join(', ') : 'Everyone'),
        h('td', {}, h('span', { class: `badge ${d.is_active ? 'active' : 'inactive'}` }, d.is_active ? 'Active' : 'Inactive')),
        h(
          'td',
          {},
          h(
            'div',
            { class: 'row-actions' },
            h(
              'button',
              { type: 'button', class: 'button secondary small', onClick: () => showForm(d), 'aria-label': `Edit ${d.display_name}` },
              'Edit',
            ),
            h(
              'button',
              {
                type: 'button',
                class: 'button secondary small',
                onClick: () => setActive(d, !d.is_active),
                'aria-label': `${d.is_active ? 'Deactivate' : 'Activate'} ${d.display_name}`,
              },
              d.is_active ? 'Deactivate' : 'Activate',
            ),
            h(
              'button',
              { type: 'button', class: 'button danger small', onClick: () => remove(d), 'aria-label': `Delete ${d.display_name}` },
              'Delete',
            ),
          ),
        ),
      );
    });
    replace(
      content,
      h('p', {}, add),
      domains.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'domains' },
              h('caption', { class: 'visually-hidden' }, 'AskDocs domains'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Domain', 'Kind', 'Endpoint', 'Who may ask', 'Status', 'Actions'].map((t) => h('th', { scope: 'col' }, t)),
                ),
              ),
              h('tbody', {}, rows),
            ),
          )
        : h('p', { class: 'empty' }, 'No domains yet. Add one so people can ask AskDocs about it.'),
    );
  }

  function showForm(domain) {
    const editing = Boolean(domain);
    const config = { ...(domain?.configuration || {}) };
    const kindValue = typeof config.kind === 'string' ? config.kind : '';
    delete config.kind;

    const controls = {
      name: h('input', {
        type: 'text',
        name: 'name',
        required: true,
        pattern: '[a-z0-9][a-z0-9\\-]{0,62}',
        maxlength: 63,
        value: domain?.name || '',
        autocomplete: 'off',
      }),
      display_name: h('input', { type: 'text', name: 'display_name', required: true, maxlength: 100, value: domain?.display_name || '' }),
      description: h('textarea', { name: 'description', rows: 2, maxlength: 2000 }),
      api_endpoint: h('input', { type: 'url', name: 'api_endpoint', value: domain?.api_endpoint || '', placeholder: 'https://…' }),
      kind: h(
        'select',
        { name: 'kind' },
        KINDS.map(([value, label]) => h('option', { value }, label)),
      ),
      configuration: h('textarea', { name: 'configuration', rows: 6, class: 'mono', spellcheck: 'false' }),
      allowed_roles: h('input', {
        type: 'text',
        name: 'allowed_roles',
        value: (domain?.allowed_roles || []).join(', '),
        placeholder: 'Everyone',
        autocomplete: 'off',
        spellcheck: 'false',
      }),
    };
    controls.description.value = domain?.description || '';
    controls.kind.value = kindValue;
    controls.configuration.value = JSON.stringify(config, null, 2);
    const active = h('input', { type: 'checkbox', name: 'is_active', id: 'domain-active', checked: editing ? domain.is_active : true });
    const formError = h('p', { class: 'error', role: 'alert', hidden: true });
    const save = h('button', { type: 'submit', class: 'button primary' }, editing ? 'Save changes' : 'Create domain');
    const cancel = h(
      'button',
      {
        type: 'button',
        class: 'button secondary',
        onClick: () => {
          showList();
        },
      },
      'Cancel',
    );

    const title = editing ? `Edit ${domain.display_name}` : 'Add a domain';
    const form = h(
      'form',
      { class: 'domain-form', 'aria-labelledby': 'domain-form-title', novalidate: true },
      h('h2', { id: 'domain-form-title' }, title),
      field('Name', controls.name, 'The unique slug: lowercase letters, digits and "-".'),
      field('Display name', controls.display_name),
      field('Description', controls.description),
      field('Endpoint', controls.api_endpoint, 'The upstream URL for this domain (optional for the built-in demo).'),
      field('Kind', controls.kind),
      field('Configuration (JSON object)', controls.configuration, 'Extra settings for the upstream, e.g. {"model": "gpt-4o"}.'),
      field(
        'Allowed roles or groups',
        controls.allowed_roles,
        'Entra app role names or group object ids, separated by commas or spaces. Only people with one of them (and admins) see and ask this domain. Empty: everyone.',
      ),
      h('div', { class: 'field checkbox' }, active, h('label', { for: 'domain-active' }, 'Active (people can ask about it)')),
      formError,
      h('div', { class: 'form-actions' }, save, cancel),
    );
    replace(content, form);
    (editing ? controls.display_name : controls.name).focus();

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      for (const control of Object.values(controls)) setFieldError(control, '');
      formError.hidden = true;

      let configuration;
      try {
        configuration = JSON.parse(controls.configuration.value.trim() || '{}');
      } catch (err) {
        setFieldError(controls.configuration, `This is not valid JSON: ${err.message}`);
        controls.configuration.focus();
        return;
      }
      if (!configuration || typeof configuration !== 'object' || Array.isArray(configuration)) {
        setFieldError(controls.configuration, 'The configuration must be a JSON object, like {}.');
        controls.configuration.focus();
        return;
      }
      if (controls.kind.value) configuration.kind = controls.kind.value;
      else delete configuration.kind;

      const body = {
        name: controls.name.value.trim(),
        display_name: controls.display_name.value.trim(),
        description: controls.description.value.trim() || null,
        api_endpoint: controls.api_endpoint.value.trim() || null,
        configuration,
        is_active: active.checked,
        allowed_roles: splitRoles(controls.allowed_roles.value),
      };
      save.disabled = true;
      try {
        if (editing) {
          await request(`/api/domains/${encodeURIComponent(domain.id)}`, { method: 'PUT', body });
        } else {
          await request('/api/domains', { method: 'POST', body });
        }
      } catch (err) {
        save.disabled = false;
        const control = err.field && controls[fieldKey(err.field)];
        if (err.status === 422 && control) {
          setFieldError(control, err.detail || err.message);
          control.focus();
        } else {
          formError.textContent = err.message;
          formError.hidden = false;
        }
        return;
      }
      status.textContent = editing ? `Saved ${body.display_name}.` : `Created ${body.display_name}.`;
      await load();
      document.getElementById('add-domain')?.focus();
    });
  }

  async function setActive(domain, isActive) {
    const body = {
      name: domain.name,
      display_name: domain.display_name,
      description: domain.description ?? null,
      api_endpoint: domain.api_endpoint ?? null,
      configuration: domain.configuration || {},
      is_active: isActive,
      allowed_roles: domain.allowed_roles || [],
    };
    try {
      await request(`/api/domains/${encodeURIComponent(domain.id)}`, { method: 'PUT', body });
      status.textContent = `${domain.display_name} is now ${isActive ? 'active' : 'inactive'}.`;
    } catch (err) {
      status.textContent = `${domain.display_name} could not be changed: ${err.message}`;
    }
    await load();
  }

  async function remove(domain) {
    const sure = await confirmAction({
      title: `Delete ${domain.display_name}?`,
      message:
        'Users can no longer ask about this domain. A domain that usage history refers to is deactivated instead, so the history stays readable.',
      confirmLabel: 'Delete domain',
    });
    if (!sure) return;
    try {
      await request(`/api/domains/${encodeURIComponent(domain.id)}`, { method: 'DELETE' });
    } catch (err) {
      status.textContent = `${domain.display_name} could not be deleted: ${err.message}`;
      return;
    }
    await load();
    const kept = domains.some((d) => d.id === domain.id);
    status.textContent = kept
      ? `${domain.display_name} was deactivated instead of deleted, because usage history refers to it.`
      : `Deleted ${domain.display_name}.`;
    document.getElementById('add-domain')?.focus();
  }

  load();
}

/** The entries of the allowed-roles input: separated by commas or spaces. */
function splitRoles(text) {
  return text
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Maps an API field name (e.g. `configuration.kind`) to a form control. */
function fieldKey(name) {
  const root = String(name).split(/[.[]/)[0];
  return root === 'kind' ? 'kind' : root;
}
