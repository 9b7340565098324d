// Interop: npm openid-client v6 (with jose for the RFC 9068 access tokens) against a running
// Habanero. Run by tests/interop/run.py node, which starts the server, registers the clients
// and the user, and passes them in the environment:
//   HABANERO_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI (confidential client with
//   authorization_code, refresh_token, client_credentials), PUBLIC_CLIENT_ID,
//   PUBLIC_REDIRECT_URI (public client, loopback redirect URI), USER_EMAIL, USER_PASSWORD.
// The top-level tests run in order and share the session of one scripted browser.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import test from 'node:test';

import * as client from 'openid-client';
import * as jose from 'jose';

import { Browser } from './browser.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is unset: run through tests/interop/run.py node`);
  return v;
};
const ISSUER = env('HABANERO_ISSUER');
const RP_ID = env('RP_CLIENT_ID');
const RP_SECRET = env('RP_CLIENT_SECRET');
const RP_REDIRECT = env('RP_REDIRECT_URI');
const PUBLIC_ID = env('PUBLIC_CLIENT_ID');
const PUBLIC_REDIRECT = env('PUBLIC_REDIRECT_URI');
const EMAIL = env('USER_EMAIL');
const PASSWORD = env('USER_PASSWORD');

const browser = new Browser();
const state = {}; // what one test leaves for the next

async function configure(clientId, secret, auth) {
  return client.discovery(new URL(ISSUER), clientId, secret, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}

// The OAuth error code of a failed openid-client call, or a failure with the whole error.
async function oauthError(promise) {
  try {
    await promise;
  } catch (e) {
    if (e instanceof client.ResponseBodyError) return { error: e.error, status: e.status };
    throw e;
  }
  assert.fail('the request succeeded');
}

// Runs the code flow with PKCE for `config` through the scripted browser.
async function codeFlow(config, redirectUri, scope, browserRedirect = redirectUri) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const st = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: browserRedirect,
    scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: st,
    nonce,
  });
  const callback = await browser.authorize(url, EMAIL, PASSWORD, browserRedirect);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier,
    expectedState: st,
    expectedNonce: nonce,
    idTokenExpected: true,
  }).catch((e) => {
    throw new Error(`${e.message} (${e.code ?? ''} ${JSON.stringify(e.cause ?? '')})\n` +
      `callback: ${callback}\n${browser.history()}`);
  });
  return { tokens, nonce, callback };
}

function atHash(accessToken) {
  const digest = createHash('sha256').update(accessToken).digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

test('discovery documents are complete and consistent', async () => {
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretBasic(RP_SECRET));
  const m = config.serverMetadata();
  assert.equal(m.issuer, ISSUER);
  for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint',
    'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
    assert.ok(m[key]?.startsWith(ISSUER + '/'), `${key}: ${m[key]}`);
  }
  assert.ok(m.code_challenge_methods_supported?.includes('S256'));
  assert.equal(m.authorization_response_iss_parameter_supported, true);
  assert.deepEqual(m.response_types_supported, ['code']);
  assert.ok(m.grant_types_supported?.includes('authorization_code'));
  assert.ok(!m.grant_types_supported?.includes('password'));
  assert.ok(!m.grant_types_supported?.includes('implicit'));
  const res = await fetch(`${ISSUER}/.well-known/oauth-authorization-server`);
  assert.equal(res.status, 200);
  const rfc8414 = await res.json();
  for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri',
    'introspection_endpoint', 'revocation_endpoint', 'code_challenge_methods_supported']) {
    assert.deepEqual(rfc8414[key], m[key], key);
  }
  state.metadata = m;
});

test('authorization code + PKCE with a scripted login; ID token validated', async () => {
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretBasic(RP_SECRET));
  const { tokens, nonce, callback } = await codeFlow(
    config, RP_REDIRECT, 'openid profile email offline_access');
  assert.equal(new URL(callback).searchParams.get('iss'), ISSUER, 'RFC 9207 iss');
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token);
  assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
  assert.ok(tokens.expiresIn() > 0);
  // openid-client checked iss, aud, azp, exp, iat, nonce and (non-repudiation) the signature.
  const claims = tokens.claims();
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.nonce, nonce);
  assert.ok(claims.sub);
  assert.ok(Array.isArray(claims.aud) ? claims.aud.includes(RP_ID) : claims.aud === RP_ID);
  assert.ok(claims.amr?.includes('pwd'), `amr ${JSON.stringify(claims.amr)}`);
  assert.ok(Number.isInteger(claims.auth_time));
  assert.ok(Math.abs(claims.auth_time - Date.now() / 1000) < 300, 'auth_time is recent');
  assert.equal(claims.at_hash, atHash(tokens.access_token), 'at_hash');
  const header = jose.decodeProtectedHeader(tokens.id_token);
  assert.ok(state.metadata.id_token_signing_alg_values_supported.includes(header.alg));
  state.tokens = tokens;
  state.sub = claims.sub;
});

test('the access token is an RFC 9068 JWT that verifies against jwks_uri', async () => {
  assert.ok(state.tokens, 'needs the code flow test');
  const jwks = jose.createRemoteJWKSet(new URL(state.metadata.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(state.tokens.access_token, jwks, {
    issuer: ISSUER,
    typ: 'at+jwt',
  });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.sub, state.sub);
  assert.equal(payload.client_id, RP_ID);
  assert.ok(payload.aud, 'aud');
  assert.ok(payload.jti, 'jti');
  assert.ok(payload.iat && payload.exp > payload.iat);
  assert.match(payload.scope, /\bopenid\b/);
});

test('userinfo answers for the access token', async () => {
  assert.ok(state.tokens, 'needs the code flow test');
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretBasic(RP_SECRET));
  const info = await client.fetchUserInfo(config, state.tokens.access_token, state.sub);
  assert.equal(info.sub, state.sub);
  assert.equal(info.email, EMAIL);
});

test('introspection: the access token is active', async () => {
  assert.ok(state.tokens, 'needs the code flow test');
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretBasic(RP_SECRET));
  const r = await client.tokenIntrospection(config, state.tokens.access_token);
  assert.equal(r.active, true);
  assert.equal(r.sub, state.sub);
  assert.equal(r.client_id, RP_ID);
  assert.equal(r.iss ?? ISSUER, ISSUER);
});

test('refresh rotates the refresh token; the old one is refused', async () => {
  assert.ok(state.tokens, 'needs the code flow test');
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretPost(RP_SECRET));
  const first = state.tokens.refresh_token;
  const second = await client.refreshTokenGrant(config, first);
  assert.ok(second.access_token);
  assert.ok(second.refresh_token, 'a new refresh token');
  assert.notEqual(second.refresh_token, first);
  assert.notEqual(second.access_token, state.tokens.access_token);
  if (second.id_token) assert.equal(second.claims().sub, state.sub);
  const third = await client.refreshTokenGrant(config, second.refresh_token);
  assert.notEqual(third.refresh_token, second.refresh_token);
  assert.deepEqual(await oauthError(client.refreshTokenGrant(config, first)),
    { error: 'invalid_grant', status: 400 });
});

test('public client: code + PKCE, auth method none, loopback redirect with any port', async () => {
  const config = await configure(PUBLIC_ID, undefined, client.None());
  const port = 40000 + Math.floor(Math.random() * 20000);
  const redirect = PUBLIC_REDIRECT.replace('127.0.0.1/', `127.0.0.1:${port}/`);
  const { tokens } = await codeFlow(config, redirect, 'openid email', redirect);
  assert.ok(tokens.access_token);
  assert.equal(tokens.claims().sub, state.sub ?? tokens.claims().sub);
  assert.equal(tokens.claims().aud, PUBLIC_ID);
});

test('client credentials', async () => {
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretPost(RP_SECRET));
  const tokens = await client.clientCredentialsGrant(config);
  assert.ok(tokens.access_token);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.equal(tokens.refresh_token, undefined, 'no refresh token for client credentials');
  assert.equal(tokens.id_token, undefined);
  const r = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(r.active, true);
  assert.equal(r.client_id, RP_ID);
});

test('revocation: revoked access and refresh tokens stop working', async () => {
  const config = await configure(RP_ID, RP_SECRET, client.ClientSecretBasic(RP_SECRET));
  const { tokens } = await codeFlow(config, RP_REDIRECT, 'openid email offline_access');
  assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, true);

  await client.tokenRevocation(config, tokens.access_token, { token_type_hint: 'access_token' });
  assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  const userinfo = await fetch(state.metadata.userinfo_endpoint, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(userinfo.status, 401);

  await client.tokenRevocation(config, tokens.refresh_token);
  assert.equal((await client.tokenIntrospection(config, tokens.refresh_token)).active, false);
  assert.equal((await oauthError(client.refreshTokenGrant(config, tokens.refresh_token))).error,
    'invalid_grant');
  // RFC 7009 §2.2: an unknown or already revoked token is still a 200.
  await client.tokenRevocation(config, 'not-a-token-we-issued');
});
