// Debian's Chromium driven by npm playwright-core, for the e2e tests. No browser download:
// playwright-core (installed by scripts/setup-e2e.sh into $HABANERO_E2E_CACHE/node) launches
// /usr/bin/chromium headless with a fresh profile.
//
// Two ways to use it:
//   import { launchChromium } from './browser.mjs';      // from a Node test
//   const b = await launchChromium({ artifacts: dir });
//   await b.page.goto(url); await b.shot('login'); await b.close();
//
//   node browser.mjs --serve                              // from Python (e2e_harness.Browser)
//   reads one JSON request per line on stdin: {"id": 1, "cmd": "goto", "args": {"url": …}}
//   and answers one line on stdout: {"id": 1, "ok": true, "result": …} or {"ok": false,
//   "error": "…"}. Diagnostics go to stderr.
//
// Only loopback hosts are reached: every other request is aborted and listed (blocked), unless
// it starts with a stub prefix, which is answered locally with a small page and listed
// (stubbed) -- a client's redirect_uri, say. Host names other than localhost do not resolve.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--disable-features=Translate,OptimizationHints,MediaRouter',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE [::1]',
];

function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return process.env.HABANERO_E2E_CACHE || path.join(base, 'habanero', 'e2e');
}

function loadPlaywright() {
  const root = path.join(cacheDir(), 'node');
  if (!fs.existsSync(path.join(root, 'node_modules', 'playwright-core'))) {
    throw new Error(`no playwright-core under ${root}: run scripts/setup-e2e.sh`);
  }
  return createRequire(path.join(root, 'package.json'))('playwright-core');
}

function isLoopback(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (!/^(https?|wss?):$/.test(u.protocol)) return true; // data:, blob:, about: stay local
  const h = u.hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const STUB_PAGE = (url) =>
  `<!doctype html><meta charset="utf-8"><title>stub</title>` +
  `<p>Stubbed by the e2e browser (no network):</p><pre id="url">${url
    .replace(/&/g, '&amp;').replace(/</g, '&lt;')}</pre>`;

export async function launchChromium({
  executablePath = process.env.HABANERO_CHROMIUM || '/usr/bin/chromium',
  artifacts = process.env.HABANERO_E2E_ARTIFACTS || null, // shot() makes a temporary one if unset
  stubs = [],
  timeoutMs = 30000,
} = {}) {
  const { chromium } = loadPlaywright();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'habanero-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 60000,
    viewport: { width: 1000, height: 800 },
    locale: 'en-US',
  });
  context.setDefaultTimeout(timeoutMs);
  context.setDefaultNavigationTimeout(timeoutMs);
  const state = { stubs: stubs.map((p) => ({ prefix: p, body: null })), stubbed: [], blocked: [] };
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    const stub = state.stubs.find((s) => url.startsWith(s.prefix));
    if (stub) {
      state.stubbed.push(url);
      return route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: stub.body ?? STUB_PAGE(url) });
    }
    if (isLoopback(url)) return route.continue();
    state.blocked.push(url);
    return route.abort('blockedbyclient');
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const navigations = [];
  page.on('request', (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) navigations.push(req.url());
  });
  page.__habanero = { navigations, isStubbed: (url) => state.stubs.some((s) => url.startsWith(s.prefix)) };
  let shots = 0;
  return {
    context,
    page,
    get artifacts() {
      return artifacts;
    },
    stub(prefix, body = null) {
      state.stubs.push({ prefix, body });
    },
    stubbed: () => [...state.stubbed],
    // Every URL the page navigated to, redirect hops included, in order.
    navigations: () => [...navigations],
    blocked: () => [...state.blocked],
    // Saves a full-page PNG as <artifacts>/<name>.png (NN-name.png when numbered); returns the path.
    async shot(name, { numbered = true } = {}) {
      artifacts ??= fs.mkdtempSync(path.join(os.tmpdir(), 'habanero-e2e-shots-'));
      fs.mkdirSync(artifacts, { recursive: true });
      shots += 1;
      const safe = String(name).replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'page';
      const file = path.join(artifacts, numbered ? `${String(shots).padStart(2, '0')}-${safe}.png` : `${safe}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---- --serve: the JSON-lines protocol e2e_harness.Browser speaks -----------------------------

// Runs action (a click, a key press); if it starts a navigation of the page within
// graceMs, waits for the new document's load event (through redirects). Returns the URL.
async function actAndSettle(page, action, graceMs = 300) {
  let navigating = false;
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) navigating = true;
  };
  page.on('request', onRequest);
  const committed = page
    .waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() })
    .catch(() => null);
  try {
    await action();
    const deadline = Date.now() + graceMs;
    while (!navigating && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (navigating) await committed;
  } finally {
    page.off('request', onRequest);
  }
  await page.waitForLoadState('load');
  return followStubbedRedirect(page);
}

// Playwright does not route a request that a redirect started, so a server's redirect to a
// stubbed URL (a client's redirect_uri) is blocked by the resolver rules and ends on an error
// page. The stub has no side effects: load it again directly, where the route answers it.
async function followStubbedRedirect(page) {
  const b = page.__habanero;
  const last = b?.navigations.at(-1);
  if (page.url().startsWith('chrome-error://') && last && b.isStubbed(last)) {
    await page.goto(last, { waitUntil: 'load' });
  }
  return page.url();
}

const commands = {
  async goto(b, { url }) {
    try {
      await b.page.goto(url, { waitUntil: 'load' });
    } catch (e) {
      // A redirect to a stubbed URL fails the navigation; anything else is an error.
      const last = b.navigations().at(-1);
      if (!(last && last !== url && b.page.__habanero.isStubbed(last))) throw e;
    }
    return followStubbedRedirect(b.page);
  },
  click: (b, { selector }) => actAndSettle(b.page, () => b.page.locator(selector).first().click()),
  submit: (b, { selector }) =>
    actAndSettle(b.page, () =>
      b.page.locator(selector).first().locator('[type=submit], button:not([type])').first().click()),
  async fill(b, { selector, value }) {
    await b.page.locator(selector).first().fill(value);
  },
  press: (b, { selector, key }) => actAndSettle(b.page, () => b.page.locator(selector).first().press(key)),
  url: (b) => b.page.url(),
  title: (b) => b.page.title(),
  content: (b) => b.page.content(),
  text: (b, { selector }) => b.page.locator(selector).first().innerText(),
  count: (b, { selector }) => b.page.locator(selector).count(),
  async waitForUrl(b, { prefix, timeout_ms }) {
    await b.page.waitForURL((u) => u.href.startsWith(prefix), { timeout: timeout_ms, waitUntil: 'load' });
    return b.page.url();
  },
  async waitForSelector(b, { selector, timeout_ms }) {
    await b.page.locator(selector).first().waitFor({ timeout: timeout_ms });
  },
  async screenshot(b, { path: file }) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await b.page.screenshot({ path: file, fullPage: true });
    return file;
  },
  stub: (b, { prefix, body }) => b.stub(prefix, body),
  stubbed: (b) => b.stubbed(),
  navigations: (b) => b.navigations(),
  blocked: (b) => b.blocked(),
  cookies: (b) => b.context.cookies(),
};

async function serve() {
  let b = null;
  const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.trim()) continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      out({ id: null, ok: false, error: `bad request: ${e.message}` });
      continue;
    }
    const { id, cmd, args = {} } = req;
    try {
      let result;
      if (cmd === 'launch') {
        if (b) throw new Error('already launched');
        b = await launchChromium({
          executablePath: args.executable,
          stubs: args.stubs ?? [],
          timeoutMs: args.timeout_ms ?? 30000,
        });
        result = b.context.browser()?.version() ?? 'chromium';
      } else if (cmd === 'close') {
        if (b) await b.close();
        b = null;
        out({ id, ok: true, result: null });
        break;
      } else {
        if (!b) throw new Error('not launched');
        const f = commands[cmd];
        if (!f) throw new Error(`unknown command ${cmd}`);
        result = await f(b, args);
      }
      out({ id, ok: true, result: result ?? null });
    } catch (e) {
      out({ id, ok: false, error: String(e?.message ?? e) });
    }
  }
  if (b) await b.close();
  process.exit(0);
}

if (process.argv.includes('--serve')) {
  serve().catch((e) => {
    process.stderr.write(`browser.mjs: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
}
