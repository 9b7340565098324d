// Proves the Solid side works without Habanero: starts css.mjs (a pod whose WebID trusts
// --issuer and, for this check only, CSS's own identity provider), then checks that
//   1. the profile names --issuer as solid:oidcIssuer (parsed as Turtle, not grepped),
//   2. an unauthenticated GET of the private resource gets 401,
//   3. login.mjs client-credentials, against CSS's own issuer with client credentials made
//      through CSS's account API, reads the private resource (200, the right body) with a
//      DPoP-bound token — the same script the Habanero suite runs, with only the issuer changed.
// Exits 0 when all pass. Run through run-node.sh:
//   tests/interop/solid/run-node.sh selfcheck.mjs [--port 3999] [--issuer http://localhost:8080]
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Parser } from 'n3';

const here = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '3999' },
    issuer: { type: 'string', default: 'http://localhost:8080' },
  },
});

const css = spawn(process.execPath, [join(here, 'css.mjs'), '--port', args.port,
  '--issuer', args.issuer, '--trust-css'], { stdio: ['ignore', 'pipe', 'inherit'] });
const info = await new Promise((resolve, reject) => {
  createInterface({ input: css.stdout }).once('line', (l) => resolve(JSON.parse(l)));
  css.once('exit', (c) => reject(new Error(`css.mjs exited (${c})`)));
});

let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}\n  ${String(e?.stack ?? e).replace(/\n/g, '\n  ')}`);
  }
}

try {
  await check('profile names the external issuer as solid:oidcIssuer', async () => {
    const profileUrl = info.webId.replace(/#.*/, '');
    const res = await fetch(profileUrl, { headers: { accept: 'text/turtle' } });
    assert.equal(res.status, 200);
    const quads = new Parser({ baseIRI: profileUrl }).parse(await res.text());
    const issuers = quads
      .filter((q) => q.subject.value === info.webId
        && q.predicate.value === 'http://www.w3.org/ns/solid/terms#oidcIssuer')
      .map((q) => q.object.value);
    assert.ok(issuers.includes(args.issuer), `issuers: ${issuers}`);
  });

  await check('unauthenticated GET of the private resource gets 401', async () => {
    const res = await fetch(info.private);
    assert.equal(res.status, 401);
    await res.text();
  });

  await check('login.mjs client-credentials (CSS as issuer) reads the private resource', async () => {
    const json = async (url, init = {}) => {
      const type = init.body ? { 'content-type': 'application/json' } : {};
      const res = await fetch(url, { ...init, headers: { ...type, ...init.headers } });
      const body = await res.json();
      assert.ok(res.ok, `${url}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    };
    const { authorization } = await json(`${info.base}.account/login/password/`, {
      method: 'POST', body: JSON.stringify({ email: info.email, password: info.password }),
    });
    const auth = { authorization: `CSS-Account-Token ${authorization}` };
    const { controls } = await json(`${info.base}.account/`, { headers: auth });
    const cc = await json(controls.account.clientCredentials, {
      method: 'POST', headers: auth, body: JSON.stringify({ name: 'selfcheck', webId: info.webId }),
    });
    const out = await new Promise((resolve) => {
      const p = spawn(process.execPath, [join(here, 'login.mjs'), 'client-credentials',
        '--issuer', info.base, '--client-id', cc.id, '--client-secret=' + cc.secret,
        '--resource', info.private], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      p.stdout.on('data', (d) => { text += d; });
      p.on('exit', (code) => resolve({ code, text }));
    });
    const result = JSON.parse(out.text.trim().split('\n').pop());
    assert.equal(out.code, 0, out.text);
    assert.equal(result.status, 200);
    assert.equal(result.body, info.secret);
    assert.equal(result.webId, info.webId);
    assert.equal(result.token.payload.aud, 'solid');
    assert.ok(result.token.payload.cnf?.jkt, 'the access token is DPoP-bound');
  });
} finally {
  css.kill('SIGTERM');
  await new Promise((r) => css.once('exit', r));
}
console.log(`${3 - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
