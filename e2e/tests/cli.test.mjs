// The `askgate` command-line tool as a person uses it against the running
// server: device-code sign-in approved on the /device page, balance, a
// streamed answer, out of tokens, history, buying, signing out.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { api, BASE_URL, devLogin, grantTokens, launchBrowser, openPage, signIn, uniqueEmail } from '../lib/harness.mjs';

const CLI = process.env.ASKGATE_CLI;

/** Runs the tool to the end: {code, stdout, stderr}. `onStdout` sees output as it comes. */
function askgate(args, { env = {}, input, onStdout, url = BASE_URL } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, ['--url', url, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

describe('the askgate command-line tool', () => {
  test('signs in with a device code and spends, shows and buys tokens', async () => {
    assert.ok(CLI, 'ASKGATE_CLI names the askgate binary (e2e/run.sh sets it)');
    const email = uniqueEmail('cli');
    const env = { ASKGATE_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'askgate-cli-')) };

    const notYet = await askgate(['balance'], { env });
    assert.equal(notYet.code, 3, notYet.stderr);
    assert.match(notYet.stderr, /not signed in .*askgate login/);

    // `login` prints the code and waits; the person approves it in the browser.
    let shown;
    const codeShown = new Promise((resolve) => {
      shown = resolve;
    });
    const login = askgate(['login'], {
      env,
      onStdout: (out) => {
        const code = out.match(/enter the code ([A-Z]{4}-[A-Z]{4})/)?.[1];
        const page = out.match(/To sign in, open (\S+)/)?.[1];
        if (code && page) shown({ code, page });
      },
    });
    const { code, page } = await codeShown;
    assert.equal(page, `${BASE_URL}/device`);
    const browser = await launchBrowser();
    try {
      const tab = await openPage(browser);
      await signIn(tab, { email });
      await tab.goto(`${page}?code=${code}`);
      assert.equal(await tab.locator('#device-code').inputValue(), code);
      await tab.locator('#device-approve').click();
      await tab.locator('#device-done').waitFor();
    } finally {
      await browser.close();
    }
    const loggedIn = await login;
    assert.equal(loggedIn.code, 0, loggedIn.stderr);
    assert.match(loggedIn.stdout, new RegExp(`Signed in to .* as ${email}`));
    const saved = join(env.ASKGATE_CONFIG_DIR, 'credentials.json');
    assert.equal(statSync(saved).mode & 0o777, 0o600, 'readable by the user alone');
    assert.ok(JSON.parse(readFileSync(saved, 'utf8')).refresh_token);

    const broke = await askgate(['chat', 'Hello?'], { env });
    assert.equal(broke.code, 4, broke.stderr);
    assert.match(broke.stderr, /out of tokens, buy more: /);

    await grantTokens(email, 2);
    assert.equal((await askgate(['balance'], { env })).stdout.trim(), '2');
    const asked = await askgate(['chat', '-'], { env, input: 'What is askgate?\n' });
    assert.equal(asked.code, 0, asked.stderr);
    assert.ok(asked.stdout.trim().length > 0, 'the answer is printed');
    assert.match(asked.stderr, /\(1 tokens left, conversation /);

    const who = await askgate(['whoami'], { env });
    assert.match(who.stdout, new RegExp(`^${email}, user, 1 tokens`));
    const history = await askgate(['history'], { env });
    assert.match(history.stdout, /consumption\s+-1/);
    assert.match(history.stdout, /grant\s+\+2/);
    const csv = await askgate(['history', '--csv'], { env });
    assert.equal(csv.stdout.split('\r\n').filter(Boolean).length, 3, csv.stdout);

    const bought = await askgate(['buy', '100'], { env });
    assert.equal(bought.code, 0, bought.stderr);
    assert.match(bought.stdout, /^https?:\/\/\S+/m);

    const out = await askgate(['logout'], { env });
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await askgate(['balance'], { env })).code, 3, 'signed out');
  });

  test('a declined sign-in says so and keeps nothing', async () => {
    const env = { ASKGATE_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'askgate-cli-')) };
    const { session_token: token } = await devLogin(uniqueEmail('cli-declines'));
    let decided = false;
    const login = askgate(['login'], {
      env,
      onStdout: async (out) => {
        const code = out.match(/enter the code ([A-Z]{4}-[A-Z]{4})/)?.[1];
        if (code && !decided) {
          decided = true;
          const res = await api('/api/auth/device/approve', { method: 'POST', token, body: { user_code: code, approve: false } });
          assert.equal(res.status, 204);
        }
      },
    });
    const result = await login;
    assert.equal(result.code, 3);
    assert.match(result.stderr, /declined/);
    assert.throws(() => statSync(join(env.ASKGATE_CONFIG_DIR, 'credentials.json')));
  });

  test('with ASKGATE_API_KEY set, commands use that key and need no sign-in', async () => {
    const email = uniqueEmail('cli-key');
    const { session_token: token } = await devLogin(email);
    await grantTokens(email, 2);
    const made = await api('/api/user/api-keys', { method: 'POST', token, body: { name: 'cli', scopes: ['chat', 'balance:read'] } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const env = { ASKGATE_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'askgate-cli-')), ASKGATE_API_KEY: made.body.secret };

    assert.equal((await askgate(['balance'], { env })).stdout.trim(), '2');
    const asked = await askgate(['chat', 'Hello?'], { env });
    assert.equal(asked.code, 0, asked.stderr);
    assert.match(asked.stderr, /\(1 tokens left/);
    const login = await askgate(['login'], { env });
    assert.match(login.stdout, /ASKGATE_API_KEY is set/);

    const revoked = await api(`/api/user/api-keys/${made.body.id}`, { method: 'DELETE', token });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const refused = await askgate(['balance'], { env });
    assert.equal(refused.code, 3, refused.stderr);
  });

  test('an askgate that cannot be reached is exit code 8 with the address', async () => {
    const env = { ASKGATE_CONFIG_DIR: mkdtempSync(join(tmpdir(), 'askgate-cli-')), ASKGATE_API_KEY: 'agk_unused' };
    const down = await askgate(['balance'], { env, url: 'http://127.0.0.1:9' });
    assert.equal(down.code, 8, down.stderr);
    assert.match(down.stderr, /http:\/\/127\.0\.0\.1:9 could not be reached: is askgate running there\?/);
  });
});
