// Server-Sent Events of a streamed answer, as askgate sends them: one
// `event:` and one `data:` (JSON) per event, `:` heartbeats.

/** Splits events out of text as it arrives; `feed` returns the events completed. */
export class EventParser {
  #buffer = '';

  feed(text) {
    this.#buffer += text.replaceAll('\r\n', '\n');
    const events = [];
    for (let end = this.#buffer.indexOf('\n\n'); end !== -1; end = this.#buffer.indexOf('\n\n')) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length) events.push({ event, data: JSON.parse(data.join('\n')) });
    }
    return events;
  }
}

/** The events of a fetch Response's body, as an async iterator; ends after `done` or `error`. */
export async function* readEvents(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the answer ended without done or error');
      for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
        yield event;
        if (event.event === 'done' || event.event === 'error') return;
      }
    }
  } finally {
    reader.releaseLock();
    res.body.cancel().catch(() => {});
  }
}
