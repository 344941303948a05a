// The example page: the SDK's five lines, and the buttons around them.
import { Askgate } from '/sdk/index.js';

const config = await (await fetch('/config')).json();
const askgate = new Askgate({ url: config.askgateUrl, clientId: config.clientId });
const $ = (id) => document.getElementById(id);

askgate.on('balance', (tokens) => {
  $('balance').textContent = String(tokens);
});
askgate.on('signout', () => {
  $('status').textContent = 'Not signed in.';
});
const failed = (err) => {
  $('error').textContent = err.message;
};
const signedIn = async ({ user }) => {
  $('status').textContent = `Signed in as ${user.email}`;
  $('spend').disabled = false;
  $('buy').disabled = false;
  await askgate.balance();
};

$('sign-in').addEventListener('click', () => askgate.signIn().then(signedIn).catch(failed));
// Without a popup: the whole window goes to askgate and comes back here.
$('sign-in-redirect').addEventListener('click', () => askgate.signInWithRedirect(`${location.origin}/`));
const back = askgate.completeSignIn();
if (back) signedIn(back).catch(failed);

$('spend').addEventListener('click', async () => {
  try {
    const res = await fetch('/askgate/spend', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: askgate.token }),
    });
    if (!res.ok) throw new Error((await res.json()).detail);
    await askgate.balance();
  } catch (err) {
    failed(err);
  }
});

$('buy').addEventListener('click', () => askgate.buy('100').catch(failed));
