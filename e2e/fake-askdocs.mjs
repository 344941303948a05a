// A stand-in for an AskDocs upstream that streams: any POST that accepts
// `text/event-stream` is answered with pieces of AskDocs' JSON answer
// (crates/upstream/src/askdocs.rs), `{"response": "next text"}` one after
// another, then `{"sources": [...]}`; any other POST with the whole JSON answer,
// `{"response", "sources"}`. The sources are:
//   - a source with an https link,
//   - a source whose link is `javascript:` (the page must not make it a link),
//   - a source with a title only.
// The answer repeats the question, so a test can tell its answers apart.
// A question containing "break off" is cut off: the connection is dropped
// after a few pieces (or, asked for JSON, before any answer).
//
//   FAKE_ASKDOCS_PORT   port to listen on (0: any; the port is printed as "listening <port>")

import { createServer } from 'node:http';

const SOURCES = [
  { title: 'Staff handbook', url: 'https://intranet.example.com/handbook' },
  { title: 'Leave policy', url: 'javascript:window.pwned=3' },
  { title: 'Team wiki page' },
];

const PAUSE_MS = 30;

const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    raw += chunk;
  });
  req.on('end', async () => {
    let question = '';
    try {
      question = String(JSON.parse(raw).message || '');
    } catch {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"error":"the body is not JSON"}');
      return;
    }
    console.log(`question ${JSON.stringify(question)}`);
    const text = `From the documents: you asked “${question}”. Leave is 25 days a year.`;
    const breakOff = question.includes('break off');
    if (!(req.headers.accept || '').includes('text/event-stream')) {
      if (breakOff) {
        res.destroy();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ response: text, sources: SOURCES }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const words = text.split(/(?<= )/);
    for (const [i, word] of words.entries()) {
      if (res.destroyed) return;
      if (breakOff && i === 4) {
        res.destroy();
        return;
      }
      res.write(`data: ${JSON.stringify({ response: word })}\n\n`);
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
    res.write(`data: ${JSON.stringify({ sources: SOURCES })}\n\n`);
    res.end();
  });
});

server.listen(Number(process.env.FAKE_ASKDOCS_PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
