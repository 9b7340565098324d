"""Shared parts of the interop suites: a real Habanero on loopback, the CLI, a scripted browser.

    server = Habanero()                     # oauth2 at "/", password at "/login/password"
    server.add_user("alice@example.com", "…")
    secret = server.add_client("rp", redirect_uris=["https://rp.example/callback"])
    browser = Browser()
    callback = browser.authorize(url, "alice@example.com", "…", "https://rp.example/callback")
    server.stop()

Environment (set by tests/interop/CMakeLists.txt): HABANERO_BIN (the habanero binary) and
HABANERO_WASM_OUT (the directory with oauth2.wasm, password.wasm and their manifests).
Each server gets its own temporary data directory and a free loopback port; it binds
127.0.0.1 only and is stopped with SIGTERM (then SIGKILL) by stop().

Browser is an HTTP user agent with a cookie jar (requests.Session) that does what a person
does: follows redirects, fills in the login form, approves the consent form, and stops at the
client's redirect_uri. It keeps a transcript of every exchange for failure messages.
"""
import base64
import hashlib
import html.parser
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import tomllib
import unittest
import urllib.parse

import requests

BIN = os.environ.get("HABANERO_BIN", "")
WASM = os.environ.get("HABANERO_WASM_OUT", "")

REDIRECT_URI = "https://rp.example/callback"
LOOPBACK_REDIRECT_URI = "http://127.0.0.1/callback"
USER_EMAIL = "alice@example.com"
USER_PASSWORD = "correct horse battery staple"
USER_NAME = "Alice Example"


def manifest_capabilities(module):
    """The capabilities a module's manifest asks for: what the operator grants in these tests."""
    with open(os.path.join(WASM, module + ".manifest.toml"), "rb") as f:
        return list(tomllib.load(f).get("capabilities", []))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def store_environment(tmp):
    """The environment of a server and its CLI. With HABANERO_INTEROP_POSTGRES (the
    state directory of tests/integration/postgres_server.py), the store is a fresh
    PostgreSQL database with its own key-encryption key (issue 13)."""
    env = dict(os.environ)
    state_dir = os.environ.get("HABANERO_INTEROP_POSTGRES")
    if not state_dir:
        return env
    out = subprocess.run(
        ["python3", os.path.join(os.path.dirname(__file__), "..", "integration",
                                 "postgres_server.py"), "createdb", state_dir],
        capture_output=True, text=True, check=True)
    kek_file = os.path.join(tmp, "kek")
    with open(kek_file, "w") as f:
        f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    os.chmod(kek_file, 0o600)
    env["HABANERO_STORE_URL"] = out.stdout.strip()
    env["HABANERO_KEYS_KEK_FILE"] = kek_file
    return env


class Habanero:
    """A running `habanero serve` with the oauth2 and password extensions."""

    def __init__(self, oauth2_settings=None, password_settings=None, users=(), clients=()):
        if not BIN or not WASM:
            raise RuntimeError("HABANERO_BIN and HABANERO_WASM_OUT must be set")
        self.tmp = tempfile.mkdtemp(prefix="habanero-interop-")
        self.data = os.path.join(self.tmp, "data")
        self.config = os.path.join(self.tmp, "habanero.toml")
        self.oauth2_settings = dict(oauth2_settings or {})
        self.password_settings = dict(password_settings or {})
        self.proc = None
        self.lines = []
        self.env = store_environment(self.tmp)
        last_error = None
        for _ in range(3):  # a free port can be taken between free_port() and bind
            self.port = free_port()
            self.issuer = "http://127.0.0.1:%d" % self.port
            self._write_config()
            try:
                self._start()
                return
            except RuntimeError as e:
                last_error = e
                if not re.search(r"in use|bind", str(e), re.I):
                    break
        raise last_error

    def _write_config(self):
        settings = {"issuer": self.issuer}
        settings.update(self.oauth2_settings)
        text = "[server]\n"
        text += 'listen = "127.0.0.1:%d"\n' % self.port
        text += "issuer = %s\n" % toml_value(self.issuer)
        text += "data_dir = %s\n" % toml_value(self.data)
        text += "shutdown_grace_ms = 2000\n"
        text += "[runtime]\nextension_dir = %s\nwatch_interval_ms = 0\n" % toml_value(WASM)
        text += '[log]\nlevel = "info"\n'
        for name, mount, s in (("oauth2", "/", settings),
                               ("password", "/login/password", self.password_settings)):
            text += "[[extensions]]\n"
            text += 'name = "%s"\nmodule = "%s.wasm"\nmount = "%s"\n' % (name, name, mount)
            text += "grants = %s\n" % toml_value(manifest_capabilities(name))
            text += "deadline_ms = 5000\n"
            if s:
                text += "[extensions.settings]\n"
                for k, v in s.items():
                    text += "%s = %s\n" % (k, toml_value(v))
        with open(self.config, "w") as f:
            f.write(text)

    def _start(self):
        self.lines = []
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace", env=self.env)
        started = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                if "issuer:" in line:
                    started.set()
            started.set()

        threading.Thread(target=pump, daemon=True).start()
        started.wait(timeout=60)
        deadline = time.time() + 30
        while time.time() < deadline and self.proc.poll() is None:
            try:
                if requests.get(self.issuer + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self._kill()
        raise RuntimeError("habanero did not start:\n" + self.log())

    def log(self):
        return "".join(self.lines)

    def log_tail(self, n=60):
        return "".join(self.lines[-n:])

    def cli(self, *args, input=None, check=True):
        """Runs `habanero <args> --config <this server's config>`."""
        out = subprocess.run([BIN, *args, "--config", self.config], input=input,
                             capture_output=True, text=True, timeout=120, env=self.env)
        if check and out.returncode != 0:
            raise AssertionError("habanero %s failed (%d):\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def add_user(self, email, password, name=None):
        args = ["user", "add", "--email", email, "--password-stdin"]
        if name:
            args += ["--name", name]
        return self.cli(*args, input=password + "\n")

    def add_client(self, client_id, secret=None, public=False, redirect_uris=(REDIRECT_URI,),
                   grant_types=("authorization_code", "refresh_token"),
                   scopes="openid profile email offline_access", name=None):
        """Registers a client; returns its secret (the given one, or the one the CLI printed)."""
        args = ["client", "add", "--id", client_id]
        if public:
            args.append("--public")
        elif secret:
            args += ["--secret", secret]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        args += ["--grant-types", ",".join(grant_types), "--scopes", scopes]
        args += ["--name", name or client_id]
        out = self.cli(*args)
        if public or secret:
            return secret
        m = re.search(r"secret\S*\s*[:=]?\s*([A-Za-z0-9_\-.~+/=]{32,})", out.stdout, re.I)
        if not m:
            m = re.search(r"^\s*([A-Za-z0-9_\-]{40,})\s*$", out.stdout, re.M)
        if not m:
            raise AssertionError("no generated secret in `client add` output:\n" + out.stdout)
        return m.group(1)

    def discovery(self):
        r = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=10)
        r.raise_for_status()
        return r.json()

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- the scripted browser ------------------------------------------------------------------

class _Forms(html.parser.HTMLParser):
    """Collects forms (action, method, inputs, submit buttons) and links of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.links = []
        self._form = None
        self._button = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "inputs": [], "buttons": []}
            self.forms.append(self._form)
        elif tag == "a" and "href" in a:
            self.links.append(a["href"])
        elif self._form is None:
            return
        elif tag == "input":
            t = a.get("type", "text").lower()
            if t in ("submit", "image"):
                self._form["buttons"].append({"name": a.get("name", ""),
                                              "value": a.get("value", ""), "text": ""})
            elif t in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["inputs"].append((a.get("name", ""), a.get("value", "on"), t))
            else:
                self._form["inputs"].append((a.get("name", ""), a.get("value", ""), t))
        elif tag == "button":
            if a.get("type", "submit").lower() == "submit":
                self._button = {"name": a.get("name", ""), "value": a.get("value", ""),
                                "text": ""}
                self._form["buttons"].append(self._button)

    def handle_data(self, data):
        if self._button is not None:
            self._button["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "button":
            self._button = None


def parse_page(text):
    p = _Forms()
    p.feed(text)
    return p


APPROVE = re.compile(r"approve|allow|accept|consent|authori[sz]e|yes|continue|grant", re.I)
DENY = re.compile(r"deny|cancel|reject|decline|refuse|no\b", re.I)


def pick_button(buttons, deny=False):
    want = DENY if deny else APPROVE
    other = APPROVE if deny else DENY
    for b in buttons:
        label = " ".join((b["name"], b["value"], b["text"]))
        if want.search(label) and not other.search(label):
            return b
    return None if deny or len(buttons) > 1 else (buttons[0] if buttons else None)


class LoginFailed(AssertionError):
    pass


class Browser:
    """A person with a browser: cookies, redirects, and forms filled in and submitted."""

    def __init__(self):
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "habanero-interop-browser/1"
        self.transcript = []

    def _exchange(self, method, url, data=None):
        r = self.session.request(method, url, data=data, allow_redirects=False, timeout=30)
        shown = dict(data or {})
        if "password" in shown:
            shown["password"] = "***"
        self.transcript.append("%s %s%s\n  -> %d %s\n%s" % (
            method, url, ("\n  form " + urllib.parse.urlencode(shown)) if data else "",
            r.status_code, r.reason,
            "".join("     %s: %s\n" % kv for kv in r.headers.items()) +
            "     " + r.text[:1500].replace("\n", "\n     ")))
        return r

    def history(self):
        return "\n".join(self.transcript)

    def authorize(self, url, email, password, redirect_uri, deny_consent=False, max_hops=20):
        """Follows `url` (an authorization request) through login and consent until the
        browser is sent to `redirect_uri`; returns that URL (with code or error)."""
        method, data = "GET", None
        login_posted = False
        for _ in range(max_hops):
            r = self._exchange(method, url, data)
            if r.status_code in (301, 302, 303, 307, 308):
                location = urllib.parse.urljoin(url, r.headers.get("Location", ""))
                if location.startswith(redirect_uri):
                    return location
                method, data, url = ("GET", None, location) if r.status_code in (301, 302, 303) \
                    else (method, data, location)
                continue
            page = parse_page(r.text) if "html" in r.headers.get("Content-Type", "") else None
            if r.status_code == 200 and page and page.forms:
                login = [f for f in page.forms
                         if any(t == "password" for _, _, t in f["inputs"])]
                if login:
                    if login_posted:
                        raise LoginFailed("the login form came back after posting it\n" +
                                          self.history())
                    login_posted = True
                    form = login[0]
                    fields = {}
                    for name, value, t in form["inputs"]:
                        if not name:
                            continue
                        if t == "password":
                            fields[name] = password
                        elif t == "email" or name in ("email", "username", "login"):
                            fields[name] = email
                        else:
                            fields[name] = value
                    button = pick_button(form["buttons"]) if form["buttons"] else None
                else:
                    form, button = None, None
                    for f in page.forms:
                        button = pick_button(f["buttons"], deny=deny_consent)
                        if button:
                            form = f
                            break
                    if form is None:
                        raise LoginFailed("no consent button to press\n" + self.history())
                    fields = {n: v for n, v, t in form["inputs"] if n}
                if button and button["name"]:
                    fields[button["name"]] = button["value"]
                method = "POST" if form["method"] == "post" else "GET"
                url = urllib.parse.urljoin(url, form["action"] or url)
                data = fields
                if method == "GET":
                    url = url.split("?")[0] + "?" + urllib.parse.urlencode(fields)
                    data = None
                continue
            if r.status_code == 200 and page:
                # The host's login page lists authenticators: take the password one.
                links = [h for h in page.links if "/login/password" in h]
                if links:
                    method, data, url = "GET", None, urllib.parse.urljoin(url, links[0])
                    continue
            raise LoginFailed("stuck at %s (status %d)\n%s" % (url, r.status_code,
                                                               self.history()))
        raise LoginFailed("more than %d hops\n%s" % (max_hops, self.history()))


def query_of(url):
    """The query parameters of a URL as a dict of single values."""
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}


# ---- protocol helpers for the Python suites --------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def authorization_url(server, client_id, redirect_uri=REDIRECT_URI, scope="openid",
                      challenge=None, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": secrets.token_urlsafe(16),
              "nonce": secrets.token_urlsafe(16)}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    return server.issuer + "/authorize?" + urllib.parse.urlencode(params), params


class Flow:
    """One authorization code flow through a Browser; after run(): code, verifier, callback."""

    def __init__(self, server, client_id, browser=None, redirect_uri=REDIRECT_URI,
                 scope="openid email offline_access", pkce=True, **extra):
        self.server = server
        self.client_id = client_id
        self.browser = browser or Browser()
        self.redirect_uri = redirect_uri
        self.verifier, challenge = pkce_pair() if pkce else (None, None)
        self.url, self.params = authorization_url(server, client_id, redirect_uri, scope,
                                                  challenge, **extra)
        self.callback = None
        self.response = {}

    def run(self, email=USER_EMAIL, password=USER_PASSWORD):
        self.callback = self.browser.authorize(self.url, email, password, self.redirect_uri)
        self.response = query_of(self.callback)
        return self

    @property
    def code(self):
        if "code" not in self.response:
            raise AssertionError("no code in %s\n%s" % (self.callback, self.browser.history()))
        return self.response["code"]

    def redeem(self, secret=None, verifier=True, **extra):
        data = {"grant_type": "authorization_code", "code": self.code,
                "redirect_uri": self.redirect_uri}
        if verifier is True and self.verifier:
            data["code_verifier"] = self.verifier
        elif isinstance(verifier, str):
            data["code_verifier"] = verifier
        data.update(extra)
        return token_request(self.server, data, self.client_id, secret)


def token_request(server, data, client_id=None, secret=None, basic=True):
    """POST /token; client_secret_basic by default, client_secret_post with basic=False,
    client_id in the form (auth method none) when secret is None."""
    auth = None
    data = dict(data)
    if client_id and secret is not None and basic:
        auth = (urllib.parse.quote(client_id, safe=""), urllib.parse.quote(secret, safe=""))
    elif client_id:
        data["client_id"] = client_id
        if secret is not None:
            data["client_secret"] = secret
    return requests.post(server.issuer + "/token", data=data, auth=auth, timeout=30)


def exchange(r):
    """A request/response pair as text, for assertion messages."""
    req = r.request
    body = req.body if isinstance(req.body, str) else (req.body or b"").decode("utf-8", "replace")
    return "%s %s\n%s\n%s\n-> %d\n%s\n%s" % (
        req.method, req.url, "\n".join("%s: %s" % kv for kv in req.headers.items()),
        re.sub(r"(password|client_secret)=[^&]*", r"\1=***", body or ""), r.status_code,
        "\n".join("%s: %s" % kv for kv in r.headers.items()), r.text[:2000])


class ServerTestCase(unittest.TestCase):
    """Prints the tail of the server's log after a failed test (self.server)."""

    server = None

    def tearDown(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if self.server is None or result is None:
            return
        if any(test is self for test, _ in result.failures + result.errors):
            print("\n---- server log (last lines) ----\n" + self.server.log_tail(80), flush=True)
