// The chat's event-stream parser (crates/http/ui/js/sse.js), without a
// browser: the events a streamed answer is made of, however the network
// splits it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SseParser } from '../../crates/http/ui/js/sse.js';

/** Feeds `chunks` one after another and returns every event they completed. */
function parseAll(...chunks) {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.feed(chunk));
}

const ANSWER =
  'event: start\ndata: {"conversation_id":"c1","tokens_remaining":4,"domain_name":null}\n\n' +
  ': keep-alive\n\n' +
  'event: delta\ndata: {"text":"Hello, "}\n\n' +
  'event: delta\ndata: {"text":"world"}\n\n' +
  'event: done\ndata: {"length":12,"tokens_remaining":4,"finish_reason":"stop"}\n\n';

const EXPECTED = [
  { event: 'start', data: '{"conversation_id":"c1","tokens_remaining":4,"domain_name":null}' },
  { event: 'delta', data: '{"text":"Hello, "}' },
  { event: 'delta', data: '{"text":"world"}' },
  { event: 'done', data: '{"length":12,"tokens_remaining":4,"finish_reason":"stop"}' },
];

describe('chat event stream', () => {
  test('a whole answer in one chunk gives its events in order, heartbeats left out', () => {
    assert.deepEqual(parseAll(ANSWER), EXPECTED);
  });

  test('the same answer split at every character gives the same events', () => {
    assert.deepEqual(parseAll(...ANSWER), EXPECTED);
  });

  test('an event is given only once its blank line has arrived', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.feed('event: delta\ndata: {"text":"a"}\n'), []);
    assert.deepEqual(parser.feed('\n'), [{ event: 'delta', data: '{"text":"a"}' }]);
  });

  test('\\r\\n and \\r end lines too, also when a chunk ends between \\r and \\n', () => {
    const crlf = ANSWER.replaceAll('\n', '\r\n');
    assert.deepEqual(parseAll(crlf), EXPECTED);
    assert.deepEqual(parseAll(...crlf), EXPECTED);
    assert.deepEqual(parseAll(ANSWER.replaceAll('\n', '\r')), EXPECTED);
    assert.deepEqual(parseAll('data: a\r', '\ndata: b\r', '\n\r', '\n'), [{ event: 'message', data: 'a\nb' }]);
  });

  test('several data lines join with a newline', () => {
    assert.deepEqual(parseAll('event: delta\ndata: first\ndata:second\ndata\n\n'), [{ event: 'delta', data: 'first\nsecond\n' }]);
  });

  test('only one space after the colon is dropped', () => {
    assert.deepEqual(parseAll('data:   indented\n\n'), [{ event: 'message', data: '  indented' }]);
  });

  test('comments, unknown fields and events without data give nothing', () => {
    assert.deepEqual(parseAll(': keep-alive\n\n:\n\nid: 7\nretry: 1000\n\nevent: delta\n\nfoo: bar\n\n'), []);
  });

  test('an event name does not carry over to the next event', () => {
    assert.deepEqual(parseAll('event: delta\ndata: 1\n\ndata: 2\n\n'), [
      { event: 'delta', data: '1' },
      { event: 'message', data: '2' },
    ]);
  });

  test('a byte order mark before the first line is ignored', () => {
    assert.deepEqual(parseAll('\uFEFF', 'event: start\ndata: {}\n\n'), [{ event: 'start', data: '{}' }]);
  });

  test('an event cut off by the end of the stream is never given', () => {
    assert.deepEqual(parseAll('event: delta\ndata: {"text":"half"}\n'), []);
  });

  test('text in any script, and characters decoded across chunks, arrive intact', () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text":"Grüße, 世界 🎉"}\n\n');
    const decoder = new TextDecoder();
    const parser = new SseParser();
    const events = [];
    // One byte at a time: multi-byte characters are split between chunks.
    for (const byte of bytes) events.push(...parser.feed(decoder.decode(Uint8Array.of(byte), { stream: true })));
    assert.deepEqual(events, [{ event: 'delta', data: '{"text":"Grüße, 世界 🎉"}' }]);
    assert.equal(JSON.parse(events[0].data).text, 'Grüße, 世界 🎉');
  });
});
