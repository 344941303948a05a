// B0: a zero-latency stand-in for the AskAT&T API. Answers `POST /chat` (and
// `POST <anything>/chat`) with {"response":"ok"} as soon as the request body has
// arrived; anything else is 404. Node's own http module, no dependencies.
//
//   node bench/upstream.mjs [PORT]        (default 18081, listens on 127.0.0.1)
import http from 'node:http';

const port = Number(process.argv[2] ?? process.env.PORT ?? 18081);
const body = Buffer.from('{"response":"ok"}');

const server = http.createServer((req, res) => {
  if (req.method !== 'POST' || !req.url.endsWith('/chat')) {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
    return;
  }
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`b0 upstream listening on http://127.0.0.1:${port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
