// A passwordless login driven by npm openid-client (v6) against a running Habanero: discovery,
// authorization code + PKCE, the magic-link authenticator's pages played by a scripted user
// agent (cookie jar, redirects by hand), then the code exchange with every ID token check
// openid-client makes (iss, aud, nonce, signature), and userinfo.
//
// Run by magic_common.run_openid_client, which passes in the environment:
//   HABANERO_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI
//   MAGIC_MOUNT ("/login/email"), MAGIC_MODE ("link" | "code"), MAGIC_ADDRESS, MAGIC_AMR
// When the message has been asked for it prints "NEED <mode>" and reads one line from stdin:
// the link (link mode) or the code (code mode) the test took from the Maildir or fakesmsc.
// Prints "OK <claims JSON>" on success; any failure exits non-zero with the transcript.
import assert from 'node:assert/strict';
import readline from 'node:readline';

import * as client from 'openid-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is unset: run through magic_common.run_openid_client`);
  return v;
};
const ISSUER = env('HABANERO_ISSUER');
const RP_ID = env('RP_CLIENT_ID');
const RP_SECRET = env('RP_CLIENT_SECRET');
const REDIRECT = env('RP_REDIRECT_URI');
const MOUNT = env('MAGIC_MOUNT');
const MODE = env('MAGIC_MODE');
const ADDRESS = env('MAGIC_ADDRESS');
const AMR = env('MAGIC_AMR').split(',');  // comma-separated, in order

const transcript = [];
const cookies = new Map();

function unescapeHtml(s) {
  return s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

// The forms of a page: [{action, method, fields: {name: value}}].
function forms(html) {
  const out = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = unescapeHtml(/action="([^"]*)"/i.exec(m[1])?.[1] ?? '');
    const method = (/method="([^"]*)"/i.exec(m[1])?.[1] ?? 'get').toLowerCase();
    const fields = {};
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const name = /name="([^"]*)"/i.exec(i[1])?.[1];
      if (name) fields[name] = unescapeHtml(/value="([^"]*)"/i.exec(i[1])?.[1] ?? '');
    }
    out.push({ action, method, fields });
  }
  return out;
}

async function request(method, url, form) {
  const headers = { 'user-agent': 'habanero-e2e-openid-client/1', 'sec-fetch-site': 'same-origin' };
  if (cookies.size) headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  for (const c of res.headers.getSetCookie()) {
    const [pair, ...attrs] = c.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (!value || attrs.some((a) => /^\s*max-age=0\b/i.test(a))) cookies.delete(name);
    else cookies.set(name, value);
  }
  const text = await res.text();
  transcript.push(`${method} ${url}${body ? ` form ${body}` : ''} -> ${res.status}\n${text.slice(0, 600)}`);
  return { res, text, url };
}

// Follows redirects; returns the final page, or the redirect URI reached (a string).
async function follow(page) {
  for (let hop = 0; hop < 15; hop++) {
    const { res } = page;
    if (res.status < 300 || res.status >= 400) return page;
    const location = new URL(res.headers.get('location'), page.url).toString();
    if (location.startsWith(REDIRECT)) return location;
    page = await request('GET', location);
  }
  throw new Error('too many redirects');
}

async function submit(page, actionSuffix, values) {
  const form = forms(page.text).find((f) => f.action.endsWith(actionSuffix));
  assert.ok(form, `no form posting to ${actionSuffix} on ${page.url}:\n${page.text}`);
  return follow(await request('POST', new URL(form.action, page.url).toString(),
    { ...form.fields, ...values }));
}

async function readLine() {
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  throw new Error('no answer on stdin');
}

async function main() {
  const config = await client.discovery(new URL(ISSUER), RP_ID, RP_SECRET,
    client.ClientSecretBasic(RP_SECRET), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid email phone',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  let page = await follow(await request('GET', url.toString()));
  if (new URL(page.url).pathname === '/login') {
    const href = /href="([^"]*)"/g;
    const link = [...page.text.matchAll(href)].map((m) => unescapeHtml(m[1]))
      .find((h) => h.startsWith(MOUNT));
    assert.ok(link, `no ${MOUNT} on the login page`);
    page = await follow(await request('GET', new URL(link, page.url).toString()));
  }
  assert.equal(page.res.status, 200);
  const sent = await submit(page, `${MOUNT}/`, { address: ADDRESS });
  assert.equal(sent.res.status, 200, sent.text);
  assert.match(sent.text, /If an account uses/);

  console.log(`NEED ${MODE}`);
  const answer = await readLine();
  let callback;
  if (MODE === 'link') {
    const confirm = await request('GET', answer);
    assert.equal(confirm.res.status, 200, confirm.text);
    callback = await submit(confirm, `${MOUNT}/confirm`, {});
  } else {
    callback = await submit(sent, `${MOUNT}/code`, { code: answer });
  }
  assert.equal(typeof callback, 'string', 'the login ends at the redirect URI');

  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.deepEqual(claims.amr, AMR);
  assert.ok(Math.abs(claims.auth_time - Date.now() / 1000) < 300, 'auth_time is recent');
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  if (ADDRESS.includes('@')) assert.equal(info.email, ADDRESS);
  else assert.equal(info.phone_number, ADDRESS);
  console.log(`OK ${JSON.stringify({ sub: claims.sub, amr: claims.amr, email: info.email, phone_number: info.phone_number })}`);
}

main().catch((e) => {
  console.error(`FAILED: ${e?.stack ?? e}\n---- transcript ----\n${transcript.join('\n')}`);
  process.exit(1);
});
