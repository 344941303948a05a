// An example app that uses askgate for sign-in and payment: a page signs the
// person in with askgate and shows their balance, its backend spends their
// tokens and starts purchases with the app's credentials.
//
//   ASKGATE_URL=http://127.0.0.1:8080 ASKGATE_CLIENT_ID=app_… ASKGATE_CLIENT_SECRET=… \
//     node sdk/js/example/server.mjs [port]
//
// The app must be registered in askgate (Admin → Apps) with this server's
// origin (http://127.0.0.1:<port>) as an allowed origin and
// http://127.0.0.1:<port>/bought as a return URL, and that origin must be in
// askgate's ALLOWED_ORIGINS so the page may call askgate.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

import { AskgateApp, AskgateError } from '../src/server.js';

const FILES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript'],
  '/sdk/index.js': ['../src/index.js', 'text/javascript'],
  '/sdk/problem.js': ['../src/problem.js', 'text/javascript'],
  '/sdk/sse.js': ['../src/sse.js', 'text/javascript'],
};

/** Starts the example on 127.0.0.1:`port` (0 picks one); resolves to `{ url, close() }`. */
export async function startExample({ port = 0, askgateUrl, clientId, clientSecret }) {
  const askgate = new AskgateApp({ url: askgateUrl, clientId, clientSecret });
  const server = http.createServer(async (req, res) => {
    const origin = `http://${req.headers.host}`;
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      const path = new URL(req.url, origin).pathname;
      if (req.method === 'GET' && FILES[path]) {
        const [file, type] = FILES[path];
        res.writeHead(200, { 'content-type': type });
        res.end(await readFile(fileURLToPath(new URL(file, import.meta.url))));
      } else if (req.method === 'GET' && path === '/config') {
        send(200, { askgateUrl, clientId });
      } else if (req.method === 'GET' && path === '/bought') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Thanks</title><p id="bought">Thank you: your tokens arrive once the payment is confirmed.</p>');
      } else if (req.method === 'POST' && path === '/askgate/spend') {
        const { token } = await readBody(req);
        // Who is this? askgate says, without this app knowing its secrets.
        const who = await askgate.introspect(token);
        if (!who.active) return send(401, { detail: 'Sign in again.' });
        const spent = await askgate.consume({ token, amount: 1, reason: 'example summary', idempotencyKey: randomUUID() });
        send(200, { email: who.email, spent });
      } else if (req.method === 'POST' && path === '/askgate/checkout') {
        const { token, package: pkg } = await readBody(req);
        send(200, await askgate.checkout({ token, package: pkg, returnUrl: `${origin}/bought` }));
      } else {
        send(404, { detail: 'not found' });
      }
    } catch (err) {
      if (err instanceof AskgateError) send(err.status, err.problem ?? { detail: err.message });
      else send(500, { detail: String(err) });
    }
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function readBody(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await startExample({
    port: Number(process.argv[2] || 3000),
    askgateUrl: process.env.ASKGATE_URL || 'http://127.0.0.1:8080',
    clientId: process.env.ASKGATE_CLIENT_ID,
    clientSecret: process.env.ASKGATE_CLIENT_SECRET,
  });
  console.log(`example app on ${url}`);
}
