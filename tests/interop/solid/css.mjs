// Starts a Community Solid Server on loopback with one pod whose WebID trusts the issuers we name,
// and a private resource only that WebID may read. Prints one JSON line when ready, then keeps
// CSS running until it gets SIGTERM or SIGINT (or stdin closes, with --stdin-stops).
//
//   node css.mjs --port 3999 --issuer http://localhost:8080 [--issuer …] [--trust-css]
//                [--root DIR] [--stdin-stops]
//
// Prints, on stdout, e.g.
//   {"ready":true,"base":"http://localhost:3999/","webId":"http://localhost:3999/alice/profile/card#me",
//    "pod":"http://localhost:3999/alice/","private":"http://localhost:3999/alice/private/secret.txt",
//    "secret":"…","email":"alice@example.com","password":"…","issuers":[…],"pid":1234}
//
// How it seeds, non-interactively:
//   1. CSS itself creates the account and the pod from a seed file (--seedConfig): an account
//      alice@example.com with a password, a pod "alice" at <base>alice/ and its WebID
//      <base>alice/profile/card#me, with the pod's root ACL giving that WebID full control.
//   2. With the file backend (@css:config/file.json), resources are plain files under --root,
//      so this script then rewrites the profile document (alice/profile/card$.ttl) with one
//      solid:oidcIssuer per --issuer, and creates alice/private/secret.txt with an ACL
//      (alice/private/.acl) granting Read, Write and Control to the WebID alone: no public
//      access and no inherited owner rule other than that WebID.
//   --trust-css keeps CSS's own issuer (<base>) in the profile as well, for the self-check
//   that logs in to CSS's identity provider (selfcheck.mjs).
//
// The base URL must be http://localhost:PORT/: CSS and its token verifier accept http only
// on hostnames ending in "localhost", and CSS refuses requests whose Host is not the base URL's.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '3999' },
    issuer: { type: 'string', multiple: true, default: [] },
    'trust-css': { type: 'boolean', default: false },
    root: { type: 'string' },
    'stdin-stops': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
  },
});

const port = Number(args.port);
const base = `http://localhost:${port}/`;
const pod = 'alice';
const email = 'alice@example.com';
const password = randomBytes(12).toString('hex');
const secret = `the private resource of ${pod}: ${randomBytes(8).toString('hex')}\n`;
const issuers = [...args.issuer, ...(args['trust-css'] ? [base] : [])];
if (issuers.length === 0) {
  console.error('css.mjs: name at least one --issuer (or --trust-css)');
  process.exit(2);
}
for (const i of issuers) {
  const u = new URL(i);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && u.hostname.endsWith('localhost'))) {
    console.error(`css.mjs: CSS would refuse tokens from ${i}: http issuers must be on *localhost`);
    process.exit(2);
  }
}

const ownRoot = !args.root;
const root = args.root ?? mkdtempSync(join(tmpdir(), 'habanero-css-'));
mkdirSync(root, { recursive: true });
const seedDir = mkdtempSync(join(tmpdir(), 'habanero-css-seed-'));
const seedFile = join(seedDir, 'seed.json');
writeFileSync(seedFile, JSON.stringify([{ email, password, pods: [{ name: pod }] }]));

const require = createRequire(import.meta.url);
const cssBin = join(dirname(require.resolve('@solid/community-server/package.json')), 'bin',
  'server.js');
const css = spawn(process.execPath, [cssBin,
  '-c', '@css:config/file.json', '-f', root, '-p', String(port), '-b', base,
  '--seedConfig', seedFile, '-l', args['log-level']], { stdio: ['ignore', 2, 2] });  // CSS logs on stdout: keep ours for the JSON line

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  css.kill('SIGTERM');
  const t = setTimeout(() => css.kill('SIGKILL'), 5000);
  css.once('exit', () => {
    clearTimeout(t);
    rmSync(seedDir, { recursive: true, force: true });
    if (ownRoot) rmSync(root, { recursive: true, force: true });
    process.exit(code);
  });
}
css.once('exit', (c) => {
  if (!stopping) {
    console.error(`css.mjs: CSS exited (${c}) before it was stopped`);
    rmSync(seedDir, { recursive: true, force: true });
    process.exit(1);
  }
});
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
if (args['stdin-stops']) {
  process.stdin.resume();
  process.stdin.on('end', () => stop(0));
}

// CSS answers only once its initializers (including the seeded account and pod) have run.
const deadline = Date.now() + 120_000;
for (;;) {
  try {
    const r = await fetch(`${base}${pod}/profile/card`, { headers: { accept: 'text/turtle' } });
    await r.text();
    if (r.ok) break;
  } catch { /* not listening yet */ }
  if (Date.now() > deadline) {
    console.error('css.mjs: CSS did not come up within 120 s');
    stop(1);
  }
  await new Promise((res) => setTimeout(res, 200));
}

const webId = `${base}${pod}/profile/card#me`;
const podDir = join(root, pod);
// The profile document: file name card$.ttl is CSS's mapping of <…/profile/card> as text/turtle.
writeFileSync(join(podDir, 'profile', 'card$.ttl'), `@prefix foaf: <http://xmlns.com/foaf/0.1/>.
@prefix solid: <http://www.w3.org/ns/solid/terms#>.
@prefix pim: <http://www.w3.org/ns/pim/space#>.

<>
    a foaf:PersonalProfileDocument;
    foaf:maker <${webId}>;
    foaf:primaryTopic <${webId}>.

<${webId}>
    a foaf:Person;
    foaf:name "Alice Example";
${issuers.map((i) => `    solid:oidcIssuer <${i}>;\n`).join('')}    pim:storage <${base}${pod}/>.
`);
mkdirSync(join(podDir, 'private'), { recursive: true });
writeFileSync(join(podDir, 'private', 'secret.txt'), secret);
writeFileSync(join(podDir, 'private', '.acl'), `@prefix acl: <http://www.w3.org/ns/auth/acl#>.

# Only the pod owner's WebID, and nobody else (no acl:agentClass), may use this container.
<#owner>
    a acl:Authorization;
    acl:agent <${webId}>;
    acl:accessTo <./>;
    acl:default <./>;
    acl:mode acl:Read, acl:Write, acl:Control.
`);

console.log(JSON.stringify({
  ready: true, base, webId, pod: `${base}${pod}/`,
  private: `${base}${pod}/private/secret.txt`, secret, email, password, issuers, root,
  pid: process.pid,
}));
