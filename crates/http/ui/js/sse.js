// Server-sent events, parsed as they arrive. The chat answers with
// `text/event-stream` (docs/api.md); `EventSource` cannot send a POST body or
// an `Authorization` header, so the page reads the response body itself and
// hands each decoded chunk to `SseParser.feed`.
//
// Follows the HTML standard's parsing rules: lines end in \n, \r\n or \r
// (also when a chunk ends between \r and \n), `field: value` loses one space
// after the colon, several `data` lines join with \n, a line starting with
// `:` is a comment (the server's keep-alive heartbeats), and an event is
// dispatched at a blank line only when it has data.

/** Turns chunks of an event stream into `{event, data}` events. */
export class SseParser {
  #buffer = '';
  #event = '';
  #data = [];
  #started = false;
  // The previous chunk ended in \r: a \n starting this one ends no second line.
  #afterCr = false;

  /**
   * Parses the next chunk of text and returns the events it completed (none
   * while an event is still arriving). `event` is `message` when the event
   * named none; `data` is the joined data lines, unparsed.
   */
  feed(chunk) {
    let text = String(chunk);
    if (!this.#started && text) {
      this.#started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#afterCr && text.startsWith('\n')) text = text.slice(1);
    if (text) this.#afterCr = text.endsWith('\r');
    this.#buffer += text;

    const events = [];
    const lineEnd = /\r\n|\r|\n/g;
    let start = 0;
    let match = lineEnd.exec(this.#buffer);
    while (match) {
      // A lone \r at the very end may be the first half of \r\n: it still ends the line.
      const event = this.#line(this.#buffer.slice(start, match.index));
      if (event) events.push(event);
      start = lineEnd.lastIndex;
      match = lineEnd.exec(this.#buffer);
    }
    this.#buffer = this.#buffer.slice(start);
    return events;
  }

  #line(line) {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.#event = value;
    else if (name === 'data') this.#data.push(value);
    // `id` and `retry` serve reconnection, which a chat answer never does.
    return null;
  }

  #dispatch() {
    const event = this.#data.length ? { event: this.#event || 'message', data: this.#data.join('\n') } : null;
    this.#event = '';
    this.#data = [];
    return event;
  }
}
