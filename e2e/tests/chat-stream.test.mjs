// The web UI's streaming chat call (chatStream in crates/http/ui/js/api.js),
// without a browser, against a local HTTP server that answers as the chat
// endpoint's contract says (docs/api.md): the events it hands on, what it
// sends, the JSON answer of a server that does not stream, refusals, a
// connection lost mid-answer, and Stop.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';

import { ApiProblem, chatStream } from '../../crates/http/ui/js/api.js';

const CONVERSATION = '0b8f0a4e-5a1c-4f4e-9a55-2f1f0c1d2e3f';

// What the next request is answered with: `(req, res)`.
let answer;
// The requests received: {method, url, headers, body}.
const received = [];
let base;
let server;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function event(name, data) {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Answers with an event stream, writing `pieces` one by one with a pause between them. */
function streams(...pieces) {
  return async (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    for (const piece of pieces) {
      res.write(piece);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    res.end();
  };
}

async function ask(options = {}) {
  const events = [];
  const last = await chatStream(`${base}/api/askatt/chat`, { message: 'Hello?' }, { ...options, onEvent: (e) => events.push(e) });
  return { events, last };
}

describe('streaming chat call', () => {
  test('hands on each event of a streamed answer, parsed, and ends with done', async () => {
    answer = streams(
      event('start', { conversation_id: CONVERSATION, tokens_remaining: 4, domain_name: null }),
      ': keep-alive\n\n',
      'event: delta\ndata: {"text":"Hel',
      'lo, "}\n\n',
      event('delta', { text: 'world' }),
      event('done', { length: 12, tokens_remaining: 4, finish_reason: 'stop' }),
    );
    const { events, last } = await ask({ idempotencyKey: 'key-1' });
    assert.deepEqual(events, [
      { event: 'start', data: { conversation_id: CONVERSATION, tokens_remaining: 4, domain_name: null } },
      { event: 'delta', data: { text: 'Hello, ' } },
      { event: 'delta', data: { text: 'world' } },
      { event: 'done', data: { length: 12, tokens_remaining: 4, finish_reason: 'stop' } },
    ]);
    assert.deepEqual(last, events.at(-1));

    const sent = received.at(-1);
    assert.equal(sent.method, 'POST');
    assert.equal(sent.headers.accept, 'text/event-stream');
    assert.equal(sent.headers['idempotency-key'], 'key-1');
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(sent.body), { message: 'Hello?' });
  });

  test('an error event ends the answer with its refund and what was kept', async () => {
    const error = {
      type: 'about:blank',
      title: 'Bad Gateway',
      status: 502,
      detail: 'The AI service failed.',
      code: 'upstream_failed',
      refunded: true,
      tokens_remaining: 5,
      partial_kept: true,
    };
    answer = streams(
      event('start', { conversation_id: CONVERSATION, tokens_remaining: 4, domain_name: null }),
      event('delta', { text: 'Half an ' }),
      event('error', error),
    );
    const { events, last } = await ask();
    assert.deepEqual(
      events.map((e) => e.event),
      ['start', 'delta', 'error'],
    );
    assert.deepEqual(last, { event: 'error', data: error });
  });

  test('a server that does not stream: its JSON answer becomes the same events', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          response: 'Leave is 25 days. ✓',
          tokens_remaining: 7,
          conversation_id: CONVERSATION,
          domain_name: 'hr',
          sources: [{ title: 'Handbook', url: 'https://example.com/handbook' }],
        }),
      );
    };
    const { events } = await ask();
    assert.deepEqual(events, [
      { event: 'start', data: { conversation_id: CONVERSATION, tokens_remaining: 7, domain_name: 'hr' } },
      { event: 'delta', data: { text: 'Leave is 25 days. ✓' } },
      { event: 'sources', data: { sources: [{ title: 'Handbook', url: 'https://example.com/handbook' }] } },
      { event: 'done', data: { length: 19, tokens_remaining: 7, finish_reason: 'stop' } },
    ]);
  });

  test('a refused question rejects with its problem, and no event is handed on', async () => {
    answer = (_req, res) => {
      res.writeHead(402, { 'Content-Type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          title: 'Payment Required',
          status: 402,
          detail: 'You have no tokens left.',
          code: 'insufficient_tokens',
          balance: 0,
        }),
      );
    };
    const events = [];
    const refused = await chatStream(`${base}/api/askatt/chat`, { message: 'Hi' }, { onEvent: (e) => events.push(e) }).catch((err) => err);
    assert.ok(refused instanceof ApiProblem);
    assert.equal(refused.status, 402);
    assert.equal(refused.code, 'insufficient_tokens');
    assert.equal(refused.balance, 0);
    assert.deepEqual(events, []);
  });

  test('a stream that ends without done or error rejects: the answer is incomplete', async () => {
    answer = streams(
      event('start', { conversation_id: CONVERSATION, tokens_remaining: 4, domain_name: null }),
      event('delta', { text: 'Cut ' }),
    );
    const events = [];
    const cut = await chatStream(`${base}/api/askatt/chat`, { message: 'Hi' }, { onEvent: (e) => events.push(e) }).catch((err) => err);
    assert.ok(cut instanceof ApiProblem);
    assert.equal(cut.code, 'network');
    assert.deepEqual(
      events.map((e) => e.event),
      ['start', 'delta'],
    );
  });

  test('aborting mid-answer stops reading, rejects with the abort, and the server sees the connection close', async () => {
    let closed;
    const serverSawClose = new Promise((resolve) => {
      closed = resolve;
    });
    answer = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write(event('start', { conversation_id: CONVERSATION, tokens_remaining: 4, domain_name: null }));
      res.write(event('delta', { text: 'One ' }));
      // Then nothing more until the client goes away.
      res.on('close', closed);
    };
    const controller = new AbortController();
    const events = [];
    const stopped = chatStream(
      `${base}/api/askatt/chat`,
      { message: 'Hi' },
      {
        signal: controller.signal,
        onEvent: (e) => {
          events.push(e);
          if (e.event === 'delta') controller.abort();
        },
      },
    ).catch((err) => err);
    const err = await stopped;
    assert.equal(err.name, 'AbortError');
    await serverSawClose;
    assert.deepEqual(
      events.map((e) => e.event),
      ['start', 'delta'],
    );
  });
});
