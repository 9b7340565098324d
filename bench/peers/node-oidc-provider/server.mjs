// node-oidc-provider configured like Habanero for the comparison benchmark (bench/README.md,
// docs/performance.md):
// one confidential client (client_secret_basic), refresh-token rotation, introspection, and
// RFC 9068 JWT access tokens signed ES256 through the resource-indicators feature. State lives
// in oidc-provider's default in-memory adapter (its documented default; not for production).
//
//   node server.mjs PORT CLIENT_SECRET USER_EMAIL USER_PASSWORD
//
// scripts/setup-bench-peers.sh copies this file next to the `npm ci`-installed node_modules.
// Prints "listening <issuer>" once the port is open.
import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const [port, clientSecret, userEmail, userPassword] = process.argv.slice(2);
if (!port || !clientSecret || !userEmail || !userPassword) {
  console.error('usage: node server.mjs PORT CLIENT_SECRET USER_EMAIL USER_PASSWORD');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const resource = `${issuer}/api`;

// A fresh P-256 signing key per start, as Habanero generates one on first start.
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench-es256' };

// The password is kept as an scrypt hash (N=2^14, r=8, p=1: 16 MiB, written then read
// once, about the memory traffic of Habanero's Argon2id m=19 MiB, t=2, p=1; Keycloak uses
// its default PBKDF2-SHA512 with 210,000 iterations). Node runs scrypt on its libuv pool.
const scryptParams = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const scrypt = (password, salt) => new Promise((resolve, reject) => {
  crypto.scrypt(password, salt, 32, scryptParams, (err, key) => (err ? reject(err) : resolve(key)));
});
const passwordSalt = crypto.randomBytes(16);
const passwordHash = await scrypt(userPassword, passwordSalt);
const checkPassword = async (password) => {
  const candidate = await scrypt(String(password ?? ''), passwordSalt);
  return crypto.timingSafeEqual(candidate, passwordHash);
};

const accountId = 'bench-user';
const configuration = {
  clients: [{
    client_id: 'bench',
    client_secret: clientSecret,
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
    scope: 'openid profile email offline_access read',
  }],
  jwks: { keys: [jwk] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'read openid profile email offline_access',
        audience: resource,
        accessTokenTTL: 3600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  // Refresh tokens for authorization codes that asked for offline_access (as Habanero does).
  issueRefreshToken: async (ctx, client, code) =>
    client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  ttl: { AccessToken: 3600, ClientCredentials: 3600, AuthorizationCode: 60, RefreshToken: 2592000 },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  findAccount: async (ctx, id) => (id === accountId
    ? { accountId, claims: async () => ({ sub: accountId, email: userEmail, name: 'Bench' }) }
    : undefined),
  // First-party client: consent is granted without a page (Habanero --first-party, Keycloak's
  // default of no consent screen).
  loadExistingGrant: async (ctx) => {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email offline_access');
    grant.addResourceScope(resource, 'read openid profile email offline_access');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
const callback = provider.callback();

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; if (body.length > 8192) req.destroy(); });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

// The interaction (login) pages: a plain HTML form, checked against the one bench user.
async function interaction(req, res) {
  const url = new URL(req.url, issuer);
  const m = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return false;
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === 'GET' && !m[2]) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`<!doctype html><form method="post" action="/interaction/${escapeHtml(details.uid)}/login">`
        + '<input name="email" type="email"><input name="password" type="password">'
        + '<button>Sign in</button></form>');
      return true;
    }
    if (req.method === 'POST' && m[2]) {
      const form = await readForm(req);
      const passwordOk = await checkPassword(form.get('password'));
      if (form.get('email') !== userEmail || !passwordOk) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('invalid credentials\n');
        return true;
      }
      // First-party client: consent is given with the login (no consent page), which also
      // satisfies prompt=consent, required by oidc-provider for offline_access.
      const grant = new provider.Grant({ clientId: details.params.client_id, accountId });
      grant.addOIDCScope(String(details.params.scope ?? 'openid'));
      grant.addResourceScope(resource, 'read openid profile email offline_access');
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } },
        { mergeWithLastSubmission: false });
      return true;
    }
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`${err.message}\n`);
    return true;
  }
  return false;
}

const server = http.createServer(async (req, res) => {
  if (req.url.startsWith('/interaction/') && await interaction(req, res)) return;
  callback(req, res);
});
server.keepAliveTimeout = 65000;
server.listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
