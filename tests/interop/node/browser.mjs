// A scripted browser for the interop suites: a cookie jar, redirects followed by hand, the
// login form filled in and the consent form approved, until the server sends it to the
// client's redirect_uri. Keeps a transcript of every exchange for failure messages.
// Uses only Node's fetch.

const APPROVE = /approve|allow|accept|consent|authori[sz]e|yes|continue|grant/i;
const DENY = /deny|cancel|reject|decline|refuse|\bno\b/i;

function unescapeHtml(s) {
  return s
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attrs(s) {
  const out = {};
  for (const m of s.matchAll(/([a-z_:-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/gi)) {
    out[m[1].toLowerCase()] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

export function parseForms(page) {
  const forms = [];
  for (const m of page.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const fa = attrs(m[1]);
    const form = {
      action: fa.action ?? '',
      method: (fa.method ?? 'get').toLowerCase(),
      fields: [],
      passwordField: null,
      emailField: null,
      buttons: [],
    };
    for (const i of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attrs(i[1]);
      const type = (a.type ?? 'text').toLowerCase();
      if (type === 'submit') form.buttons.push({ name: a.name ?? '', value: a.value ?? '', text: '' });
      else if (!a.name) continue;
      else if (type === 'password') form.passwordField = a.name;
      else if (type === 'email' || a.name === 'email' || a.name === 'username') form.emailField = a.name;
      else if (type === 'checkbox' || type === 'radio') {
        if ('checked' in a) form.fields.push([a.name, a.value ?? 'on']);
      } else form.fields.push([a.name, a.value ?? '']);
    }
    for (const b of m[2].matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const a = attrs(b[1]);
      if (a.type && a.type.toLowerCase() !== 'submit') continue;
      form.buttons.push({ name: a.name ?? '', value: a.value ?? '', text: b[2] });
    }
    forms.push(form);
  }
  return forms;
}

function pickButton(buttons) {
  for (const b of buttons) {
    const label = `${b.name} ${b.value} ${b.text}`;
    if (APPROVE.test(label) && !DENY.test(label)) return b;
  }
  return buttons.length === 1 ? buttons[0] : null;
}

export class Browser {
  constructor() {
    this.cookies = new Map(); // one origin in these tests: name -> value
    this.transcript = [];
  }

  history() {
    return this.transcript.join('\n');
  }

  async request(method, url, form) {
    const headers = { 'user-agent': 'habanero-interop-browser/1' };
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrsList] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrsList.some((a) => {
        const [k, v] = a.trim().split('=');
        return (k.toLowerCase() === 'max-age' && Number(v) <= 0) ||
          (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now());
      });
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    const shown = form ? Object.fromEntries(
      Object.entries(form).map(([k, v]) => [k, k === 'password' ? '***' : v])) : null;
    this.transcript.push(`${method} ${url}${shown ? `\n  form ${new URLSearchParams(shown)}` : ''}\n` +
      `  -> ${res.status} ${res.statusText}\n` +
      [...res.headers].map(([k, v]) => `     ${k}: ${v}\n`).join('') +
      `     ${text.slice(0, 1500)}`);
    return { res, text };
  }

  // Follows an authorization request through login and consent; returns the URL the server
  // finally redirects to (starting with redirectUri).
  async authorize(start, email, password, redirectUri) {
    let method = 'GET';
    let url = String(start);
    let form = null;
    let loginPosted = false;
    for (let hop = 0; hop < 20; hop++) {
      const { res, text } = await this.request(method, url, form);
      if (res.status >= 300 && res.status < 400) {
        const location = new URL(res.headers.get('location') ?? '', url).toString();
        if (location.startsWith(redirectUri)) return location;
        [method, url, form] = ['GET', location, null];
        continue;
      }
      const forms = res.status === 200 ? parseForms(text) : [];
      if (forms.length) {
        let chosen = forms.find((f) => f.passwordField);
        let button = null;
        let fields;
        if (chosen) {
          if (loginPosted) throw new Error(`the login form came back after posting it\n${this.history()}`);
          loginPosted = true;
          fields = Object.fromEntries(chosen.fields);
          fields[chosen.passwordField] = password;
          if (chosen.emailField) fields[chosen.emailField] = email;
          button = pickButton(chosen.buttons);
        } else {
          for (const f of forms) {
            button = pickButton(f.buttons);
            if (button) {
              chosen = f;
              break;
            }
          }
          if (!chosen) throw new Error(`no form to submit at ${url}\n${this.history()}`);
          fields = Object.fromEntries(chosen.fields);
        }
        if (button?.name) fields[button.name] = button.value;
        const next = new URL(chosen.action || url, url);
        if (chosen.method === 'post') [method, url, form] = ['POST', next.toString(), fields];
        else {
          next.search = new URLSearchParams(fields).toString();
          [method, url, form] = ['GET', next.toString(), null];
        }
        continue;
      }
      const link = res.status === 200 && text.match(/<a\b[^>]*href\s*=\s*"([^"]*\/login\/password[^"]*)"/i);
      if (link) {
        [method, url, form] = ['GET', new URL(unescapeHtml(link[1]), url).toString(), null];
        continue;
      }
      throw new Error(`stuck at ${url} (${res.status})\n${this.history()}`);
    }
    throw new Error(`too many hops\n${this.history()}`);
  }
}
