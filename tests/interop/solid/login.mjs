// Logs in to a Solid-OIDC issuer with Inrupt's @inrupt/solid-client-authn-node and reads one
// resource with the session's DPoP-bound fetch. Prints one JSON line with the outcome; exits 0
// when the resource answered with --expect (default 200), 1 otherwise, 2 on bad usage.
//
//   node login.mjs client-credentials --issuer URL --client-id ID --client-secret S --resource URL
//   node login.mjs auth-code --issuer URL --redirect-url URL [--client-id ID [--client-secret S]]
//                  --resource URL [--browser stdio | --email E --password P [--browser-module F]]
//
// Common options: --token-type DPoP|Bearer (default DPoP), --expect STATUS (default 200),
// --scope S (extra scopes; the library always asks for "openid offline_access webid").
//
// client-credentials: a static client (client_id not a URL) with a secret and no redirect URL.
//   The library posts grant_type=client_credentials with HTTP Basic and a DPoP proof, and
//   takes the WebID from the ID token or, without one, from the access token itself.
// auth-code: authorization code + PKCE (S256) + DPoP. --client-id may be
//   - a registered client id (with --client-secret: confidential, client_secret_basic),
//   - a URL, a Client Identifier Document (public; used as is when the issuer lists "webid"
//     in scopes_supported),
//   - absent: the library registers a client dynamically at registration_endpoint.
//   The library hands us the authorization URL; the user-agent part is then played either
//   - by this script (--email/--password): the scripted browser of tests/interop/node
//     (--browser-module, default $HABANERO_INTEROP_DIR/node/browser.mjs) logs in at the
//     issuer's form and approves consent, until it is sent to --redirect-url, or
//   - by the caller (--browser stdio): we print {"authorize": URL} on stdout and read the
//     final redirect URL (with code, state, iss) as one line on stdin.
//   The redirect is then handed to session.handleIncomingRedirect, which redeems the code.
//
// Output, e.g. {"mode":"client-credentials","ok":true,"webId":"…","clientAppId":"…",
//   "status":200,"body":"…","token":{"header":{…},"payload":{…}},"tokenType":"DPoP"}
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { EVENTS, Session } from '@inrupt/solid-client-authn-node';

const usage = (msg) => {
  console.error(`login.mjs: ${msg}\n  see the comment at the top of login.mjs`);
  process.exit(2);
};

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    issuer: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'client-name': { type: 'string' },
    'redirect-url': { type: 'string' },
    resource: { type: 'string' },
    'token-type': { type: 'string', default: 'DPoP' },
    expect: { type: 'string', default: '200' },
    scope: { type: 'string', multiple: true, default: [] },
    browser: { type: 'string' },
    'browser-module': { type: 'string' },
    email: { type: 'string' },
    password: { type: 'string' },
  },
});
const mode = positionals[0];
if (!['client-credentials', 'auth-code'].includes(mode)) usage('mode must be client-credentials or auth-code');
if (!a.issuer || !a.resource) usage('--issuer and --resource are required');

function decodeJwt(token) {
  try {
    const [h, p] = token.split('.');
    const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());
    return { header: dec(h), payload: dec(p) };
  } catch {
    return { opaque: true };
  }
}

const session = new Session({ keepAlive: false });
let tokens = null;
session.events.on(EVENTS.NEW_TOKENS, (t) => { tokens = t; });
session.events.on(EVENTS.ERROR, (error, description) => {
  console.error(`login.mjs: session error ${error}: ${description ?? ''}`);
});

const result = { mode, issuer: a.issuer };
try {
  if (mode === 'client-credentials') {
    if (!a['client-id'] || !a['client-secret']) usage('client-credentials needs --client-id and --client-secret');
    await session.login({
      oidcIssuer: a.issuer,
      clientId: a['client-id'],
      clientSecret: a['client-secret'],
      tokenType: a['token-type'],
      customScopes: a.scope,
    });
  } else {
    if (!a['redirect-url']) usage('auth-code needs --redirect-url');
    let authorizeUrl = null;
    await session.login({
      oidcIssuer: a.issuer,
      redirectUrl: a['redirect-url'],
      clientId: a['client-id'],
      clientSecret: a['client-secret'],
      clientName: a['client-name'] ?? 'Habanero Solid interop',
      tokenType: a['token-type'],
      customScopes: a.scope,
      handleRedirect: (url) => { authorizeUrl = url; },
    });
    if (!authorizeUrl) throw new Error('the library did not hand over an authorization URL');
    result.authorize = authorizeUrl;
    let callback;
    if (a.browser === 'stdio') {
      console.log(JSON.stringify({ authorize: authorizeUrl }));
      const rl = createInterface({ input: process.stdin });
      callback = await new Promise((resolve, reject) => {
        rl.once('line', (line) => { resolve(line.trim()); rl.close(); });
        rl.once('close', () => reject(new Error('stdin closed before the redirect URL came')));
      });
    } else {
      if (!a.email || !a.password) usage('auth-code needs --browser stdio, or --email and --password');
      const modulePath = a['browser-module']
        ?? (process.env.HABANERO_INTEROP_DIR && `${process.env.HABANERO_INTEROP_DIR}/node/browser.mjs`);
      if (!modulePath) usage('no --browser-module and HABANERO_INTEROP_DIR is unset');
      const { Browser } = await import(pathToFileURL(modulePath).href);
      const browser = new Browser();
      callback = await browser.authorize(authorizeUrl, a.email, a.password, a['redirect-url']);
    }
    result.callback = callback;
    const cb = new URL(callback);
    if (cb.searchParams.has('error')) {
      throw new Error(`authorization error: ${cb.searchParams.get('error')} ${cb.searchParams.get('error_description') ?? ''}`);
    }
    await session.handleIncomingRedirect(callback);
  }
  result.webId = session.info.webId;
  result.clientAppId = session.info.clientAppId;
  result.loggedIn = session.info.isLoggedIn;
  if (tokens) {
    result.token = decodeJwt(tokens.accessToken);
    result.idToken = tokens.idToken ? decodeJwt(tokens.idToken).payload : undefined;
    result.refreshToken = Boolean(tokens.refreshToken);
    result.dpop = Boolean(tokens.dpopKey);
  }
  const res = await session.fetch(a.resource);
  result.status = res.status;
  result.wwwAuthenticate = res.headers.get('www-authenticate') ?? undefined;
  result.body = await res.text();
  result.ok = res.status === Number(a.expect);
} catch (e) {
  result.ok = false;
  result.error = String(e?.stack ?? e);
}
console.log(JSON.stringify(result));
// Open handles (refresh timers, keep-alive sockets) would otherwise keep Node running.
process.exit(result.ok ? 0 : 1);
