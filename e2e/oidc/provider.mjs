// A real OpenID provider (panva's certified oidc-provider) posing as one
// Azure AD (Entra ID) tenant: issuer http://127.0.0.1:PORT/<tenant>/v2.0,
// ID tokens carrying oid, tid, email, name and roles, authorization code with
// PKCE, device-code sign-in (RFC 8628), a confidential client with a secret,
// and the provider's development login, consent and device pages (which a
// script can fill in).
//
// Used by login.test.mjs; also runs alone for manual testing:
//   node provider.mjs [port]   (prints the issuer)

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

export const TENANT = '6f1c2b9e-0d7a-4c55-9a3e-7b1d4c2e8f10';
export const CLIENT_ID = '3c9e1f4a-5b2d-4e8f-a1c7-0d6b9e2f4a13';
export const CLIENT_SECRET = 'e2e~client.secret-value';

// The tenant's people, by login name: what Azure AD would put in their tokens.
export const PEOPLE = {
  ada: {
    oid: '00000000-0000-0000-66f3-3332eca7ea81',
    email: 'ada@contoso.example',
    name: 'Ada Lovelace',
    roles: ['Admin'],
  },
  bob: {
    oid: '00000000-0000-0000-1234-56789abcdef0',
    email: 'bob@contoso.example',
    name: 'Bob Builder',
    roles: [],
  },
};

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `e2e-${randomUUID()}`, alg: 'RS256', use: 'sig' };
}

// How long device codes issued from now on stay valid, in seconds.
let deviceCodeTtl = 600;

/** Device codes issued after this call expire after `seconds`. */
export function setDeviceCodeTtl(seconds) {
  deviceCodeTtl = seconds;
}

/**
 * Starts the provider on 127.0.0.1:`port` (0 picks one).
 * `redirectUris`: where the client may be sent back with a code.
 * Resolves to `{ issuer, close() }`.
 */
export async function startProvider({ port = 0, redirectUris }) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const mount = `/${TENANT}/v2.0`;
  const issuer = `http://127.0.0.1:${server.address().port}${mount}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomUUID()] },
    pkce: { required: () => true },
    ttl: {
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AccessToken: 3600,
      IdToken: 3600,
      DeviceCode: () => deviceCodeTtl,
    },
    // Azure AD puts the profile in the ID token itself, not only behind userinfo.
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub', 'oid', 'tid', 'roles'],
      email: ['email'],
      profile: ['name', 'preferred_username'],
    },
    async findAccount(_ctx, id) {
      const person = PEOPLE[id];
      if (!person) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            // Azure AD's `sub` is pairwise per app; `oid` is the stable identity.
            sub: `pairwise-${person.oid}`,
            oid: person.oid,
            tid: TENANT,
            email: person.email,
            preferred_username: person.email,
            name: person.name,
            roles: person.roles,
          };
        },
      };
    },
    features: {
      // Its login and consent pages live at /interaction/<uid>, outside the mount.
      devInteractions: { enabled: true },
      // Entra ID's device code flow; its pages live under the mount (/device).
      deviceFlow: { enabled: true },
    },
  });

  const handle = provider.callback();
  server.on('request', (req, res) => {
    if (req.url === mount || req.url.startsWith(`${mount}/`)) {
      req.originalUrl = req.url;
      req.url = req.url.slice(mount.length) || '/';
      handle(req, res);
    } else if (req.url.startsWith('/interaction/')) {
      handle(req, res);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });

  return {
    issuer,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] || 0);
  const { issuer } = await startProvider({
    port,
    redirectUris: ['http://127.0.0.1:8080/api/auth/callback'],
  });
  console.log(issuer);
}
