"""The edge host under Viceroy (issue 15): the unchanged extension modules on Fastly Compute.

One data directory is prepared with the habanero CLI (a user, a confidential client "rp" and a
public client "rp-public"), exported with `habanero edge export`, and served as docs/edge.md says: `fastly compute serve`
(the Fastly CLI) with Viceroy running the edge program that tests/edge/CMakeLists.txt built
(HABANERO_EDGE_WASM). A native
`habanero serve` on the same data directory and issuer checks that tokens issued at the edge
are the server's. The openid-client suite of tests/interop/node runs against the edge as it
runs against the server.

The ABI conformance suite (tests/conformance) runs against the edge through its HTTP driver:
the edge program embeds every setup of cases.json (prepare.py), the fixtures are seeded here,
and differences are declared in tests/conformance/differences/edge.json (docs/edge.md).

Environment: HABANERO_BIN, HABANERO_WASM_OUT, HABANERO_EDGE_WASM (the built program; its
modules in ../wasm), VICEROY, FASTLY_CLI, HABANERO_INTEROP_CACHE, HABANERO_CONFORMANCE_BIN.
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import habanero_interop as hi  # noqa: E402

EDGE_WASM = os.environ.get("HABANERO_EDGE_WASM", "")
# Deployment 2 of docs/edge.md, built from edge/extensions.login-at-origin.toml as shipped.
SPLIT_WASM = os.environ.get("HABANERO_EDGE_SPLIT_WASM", "")
# The modules the edge program embeds (tests/edge/prepare.py wrote them next to bin/).
EDGE_MODULES = os.path.join(os.path.dirname(os.path.dirname(EDGE_WASM)), "wasm")
CONFORMANCE_BIN = os.environ.get("HABANERO_CONFORMANCE_BIN", "")
CASES = os.path.join(HERE, "..", "conformance", "cases.json")
VICEROY = os.environ.get("VICEROY", "")
FASTLY_CLI = os.environ.get("FASTLY_CLI", "")
CACHE = os.environ.get("HABANERO_INTEROP_CACHE", "")


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Process:
    """A child process whose output is collected by a thread."""

    def __init__(self, args, ready=None, env=None):
        self.lines = []
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace", env=env)
        self.ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                if ready and re.search(ready, line):
                    self.ready.set()
            self.ready.set()

        threading.Thread(target=pump, daemon=True).start()

    def log(self, n=80):
        return "".join(self.lines[-n:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_healthy(url, proc, what):
    deadline = time.time() + 60
    while time.time() < deadline and proc.proc.poll() is None:
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("%s did not start:\n%s" % (what, proc.log()))


class Edge:
    """A data directory, its export, Viceroy serving the edge program, and a native server."""

    def __init__(self, wasm=EDGE_WASM):
        for name in ("HABANERO_BIN", "HABANERO_WASM_OUT", "HABANERO_EDGE_WASM", "VICEROY",
                     "FASTLY_CLI"):
            if not os.environ.get(name):
                raise RuntimeError(name + " must be set (run through tests/edge/run.sh)")
        if not os.path.exists(wasm):
            raise RuntimeError(wasm + ": no edge program (tests/edge/CMakeLists.txt builds it)")
        self.wasm = wasm
        self.tmp = tempfile.mkdtemp(prefix="habanero-edge-")
        self.data = os.path.join(self.tmp, "data")
        self.config = os.path.join(self.tmp, "habanero.toml")
        self.stores = os.path.join(self.tmp, "stores")
        self.edge = self.server = None
        last = None
        for _ in range(3):  # a free port can be taken between free_port() and bind
            self.port, self.server_port = hi.free_port(), hi.free_port()
            self.issuer = "http://127.0.0.1:%d" % self.port
            self.server_url = "http://127.0.0.1:%d" % self.server_port
            try:
                self._prepare()
                self._start_edge()
                self._start_server()
                return
            except RuntimeError as e:
                last = e
                self.stop(keep_tmp=True)
                if not re.search(r"in use|bind", str(e), re.I):
                    break
        shutil.rmtree(self.tmp, ignore_errors=True)
        raise last

    def _prepare(self):
        text = "[server]\n"
        text += 'listen = "127.0.0.1:%d"\n' % self.server_port
        text += "issuer = %s\n" % hi.toml_value(self.issuer)
        text += "data_dir = %s\n" % hi.toml_value(self.data)
        text += "shutdown_grace_ms = 2000\n"
        text += "[runtime]\nextension_dir = %s\nwatch_interval_ms = 0\n" % hi.toml_value(
            EDGE_MODULES)
        extensions = [("oauth2", "/", hi.manifest_capabilities("oauth2"), {}),
                      ("password", "/login/password", hi.manifest_capabilities("password"), {}),
                      ("hello", "/hello", hi.manifest_capabilities("hello"), {"greeting": "Hola"})]
        # The conformance setups' settings reach the edge through `edge export` (the native
        # server loads them too; it is not what the suite drives).
        if os.path.exists(CASES):
            with open(CASES) as f:
                for name, setup in sorted(json.load(f)["setups"].items()):
                    if setup.get("settings"):
                        extensions.append((name, "/" + name, setup.get("grants", []),
                                           setup["settings"]))
        for name, mount, grants, settings in extensions:
            text += "[[extensions]]\n"
            text += 'name = "%s"\nmodule = "%s.wasm"\nmount = "%s"\n' % (name, name, mount)
            text += "grants = %s\n" % hi.toml_value(grants)
            if settings:
                text += "[extensions.settings]\n"
                for k, v in settings.items():
                    text += "%s = %s\n" % (k, hi.toml_value(v))
        with open(self.config, "w") as f:
            f.write(text)
        if os.path.isdir(self.data):
            return  # a retry with other ports: the records are there
        self.cli("user", "add", "--email", hi.USER_EMAIL, "--password-stdin", "--name",
                 hi.USER_NAME, input=hi.USER_PASSWORD + "\n")
        out = self.cli("client", "add", "--id", "rp", "--redirect-uri", hi.REDIRECT_URI,
                       "--grant-types", "authorization_code,refresh_token,client_credentials",
                       "--scopes", "openid profile email offline_access", "--name", "Edge RP")
        m = re.search(r"secret\S*\s*[:=]?\s*([A-Za-z0-9_\-.~+/=]{32,})", out.stdout, re.I)
        if not m:
            raise AssertionError("no generated secret in `client add` output:\n" + out.stdout)
        self.secret = m.group(1)
        self.cli("client", "add", "--id", "rp-public", "--public", "--redirect-uri",
                 hi.LOOPBACK_REDIRECT_URI, "--grant-types", "authorization_code,refresh_token",
                 "--scopes", "openid profile email offline_access", "--name", "Edge app")
        self._seed_conformance_fixtures()

    def _seed_conformance_fixtures(self):
        """The users and clients of cases.json's fixtures (README.md, step 2)."""
        if not os.path.exists(CASES):
            return
        with open(CASES) as f:
            fixtures = json.load(f)["fixtures"]
        for u in fixtures.get("users", []):
            args = ["user", "add", "--email", u["email"]]
            if u.get("name"):
                args += ["--name", u["name"]]
            if u.get("phone_number"):
                args += ["--phone", u["phone_number"]]
            if u.get("email_verified"):
                args.append("--email-verified")
            if u.get("password"):
                args.append("--password-stdin")
            self.cli(*args, input=(u.get("password", "") + "\n") if u.get("password") else None)
        for c in fixtures.get("clients", []):
            args = ["client", "add", "--id", c["client_id"], "--name", c.get("name", c["client_id"])]
            if c.get("public"):
                args.append("--public")
            elif c.get("secret"):
                args += ["--secret", c["secret"]]
            for uri in c.get("redirect_uris", []):
                args += ["--redirect-uri", uri]
            if c.get("grant_types"):
                args += ["--grant-types", ",".join(c["grant_types"])]
            if c.get("scopes"):
                args += ["--scopes", " ".join(c["scopes"])]
            self.cli(*args)

    def cli(self, *args, input=None):
        out = subprocess.run([hi.BIN, *args, "--config", self.config], input=input,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise AssertionError("habanero %s failed (%d):\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def _start_edge(self):
        self.export = self.cli("edge", "export", "--out", self.stores)
        # The origin the edge forwards to: the native server (started next).
        with open(os.path.join(self.stores, "fastly.toml"), "a") as f:
            f.write('\n[local_server.backends]\norigin = { url = "%s" }\n' % self.server_url)
        # As docs/edge.md: the Fastly CLI runs Viceroy on the exported manifest. Its own
        # configuration goes to the test's directory, not the user's.
        self.edge = Process([FASTLY_CLI, "compute", "serve", "--dir", self.stores,
                             "--skip-build", "--file", self.wasm, "--viceroy-path", VICEROY,
                             "--addr", "127.0.0.1:%d" % self.port],
                            ready=r"Listening on",
                            env=dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.tmp, "config")))
        self.edge.ready.wait(timeout=120)
        wait_healthy(self.issuer, self.edge, "viceroy")

    def _start_server(self):
        self.server = Process([hi.BIN, "serve", "--config", self.config], ready=r"issuer:")
        self.server.ready.wait(timeout=60)
        wait_healthy(self.server_url, self.server, "habanero serve")

    def stop(self, keep_tmp=False):
        for p in (self.edge, self.server):
            if p:
                p.stop()
        self.edge = self.server = None
        if not keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class EdgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.e = Edge()

    @classmethod
    def tearDownClass(cls):
        cls.e.stop()

    def tearDown(self):
        if hasattr(self, "_outcome") and any(
                err for _, err in getattr(self._outcome.result, "errors", [])[-1:]):
            print("---- viceroy log ----\n" + self.e.edge.log(), file=sys.stderr)

    def get(self, path, **kw):
        return requests.get(self.e.issuer + path, timeout=30, allow_redirects=False, **kw)

    def test_hello_greets_with_the_setting_and_counts_in_kv(self):
        r = self.get("/hello/?name=Edge")
        self.assertEqual(r.status_code, 200, r.text)
        self.assertIn("Hola, Edge", r.text)
        first = int(self.get("/hello/count").text.split()[-1])
        second = int(self.get("/hello/count").text.split()[-1])
        self.assertEqual(second, first + 1)
        self.assertEqual(self.get("/hello/?name=a&name=b").status_code, 400)
        self.assertEqual(self.get("/hello/nowhere").status_code, 404)
        # Fastly normalises dot segments before the program sees the path (the server
        # refuses them with 400): "/hello/../x" arrives as "/x", which no route serves.
        self.assertEqual(self.get("/hello/../x").status_code, 404)

    def test_host_pages(self):
        self.assertEqual(self.get("/healthz").text, "ok")
        css = self.get("/static/style.css")
        self.assertEqual(css.status_code, 200)
        self.assertTrue(css.headers["content-type"].startswith("text/css"))
        self.assertEqual(self.get("/login?rt=unknown").status_code, 400)

    def test_discovery_and_jwks_are_the_servers(self):
        d = self.get("/.well-known/openid-configuration").json()
        self.assertEqual(d["issuer"], self.e.issuer)
        self.assertEqual(d["jwks_uri"], self.e.issuer + "/jwks.json")
        native = requests.get(self.e.server_url + "/jwks.json", timeout=10).json()
        self.assertEqual(self.get("/jwks.json").json(), native)
        self.assertEqual(requests.get(self.e.server_url + "/.well-known/openid-configuration",
                                      timeout=10).json(), d)

    def test_client_credentials_token_verifies_at_the_server(self):
        r = requests.post(self.e.issuer + "/token", auth=("rp", self.e.secret),
                          data={"grant_type": "client_credentials"}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        token = r.json()["access_token"]
        header, claims = (b64url_json(p) for p in token.split(".")[:2])
        self.assertEqual(header["typ"], "at+jwt")
        self.assertIn(header["kid"], [k["kid"] for k in self.get("/jwks.json").json()["keys"]])
        self.assertEqual(claims["iss"], self.e.issuer)
        self.assertEqual(claims["client_id"], "rp")
        # The server, holding the same keys, takes the edge's token as its own.
        native = requests.post(self.e.server_url + "/introspect", auth=("rp", self.e.secret),
                               data={"token": token}, timeout=30)
        self.assertEqual(native.status_code, 200, native.text)
        self.assertTrue(native.json()["active"], native.text)
        # ... and the edge takes the server's.
        theirs = requests.post(self.e.server_url + "/token", auth=("rp", self.e.secret),
                               data={"grant_type": "client_credentials"}, timeout=30).json()
        at_edge = requests.post(self.e.issuer + "/introspect", auth=("rp", self.e.secret),
                                data={"token": theirs["access_token"]}, timeout=30)
        self.assertTrue(at_edge.json()["active"], at_edge.text)
        bad = requests.post(self.e.issuer + "/token", auth=("rp", "wrong"),
                            data={"grant_type": "client_credentials"}, timeout=30)
        self.assertEqual(bad.status_code, 401)
        self.assertEqual(bad.json()["error"], "invalid_client")

    def test_what_the_edge_does_not_serve_goes_to_the_origin(self):
        # No edge route matches: forwarded to the native server, whose HTTP front sets Server.
        r = self.get("/no/such/route")
        self.assertEqual(r.status_code, 404)
        self.assertIn("server", r.headers)
        self.assertNotIn("server-timing", r.headers)
        # An edge route is served at the edge.
        self.assertIn("server-timing", self.get("/jwks.json").headers)

    def test_a_looping_extension_gets_503_and_the_next_request_works(self):
        r = self.get("/loop/")
        self.assertEqual(r.status_code, 503)
        self.assertEqual(r.text, "extension exceeded its deadline\n")
        self.assertEqual(self.get("/hello/?name=again").status_code, 200)

    def test_cpu_per_request(self):
        """Times each endpoint at the edge (the host's Server-Timing: instantiation, the
        extension and its host calls, in the Compute program under Viceroy's Wasmtime) and
        prints the medians for docs/edge.md. Asserts only that every request succeeds."""
        token = requests.post(self.e.issuer + "/token", auth=("rp", self.e.secret),
                              data={"grant_type": "client_credentials"},
                              timeout=30).json()["access_token"]
        probe = json.dumps([{"call": "user_verify_password",
                             "args": ["ana@example.com", "correct horse battery", 64]}])
        endpoints = [
            ("hello", "GET", "/hello/?name=x", {}, None),
            ("discovery", "GET", "/.well-known/openid-configuration", {}, None),
            ("jwks", "GET", "/jwks.json", {}, None),
            ("token (client_credentials)", "POST", "/token", {"auth": ("rp", self.e.secret)},
             {"grant_type": "client_credentials"}),
            ("introspect", "POST", "/introspect", {"auth": ("rp", self.e.secret)},
             {"token": token}),
        ]
        if os.path.exists(CASES):
            endpoints.append(("user_verify_password (Argon2id)", "GET", "/core/",
                              {"headers": {"x-probe": probe}}, None))
        rows = []
        for label, method, path, kw, data in endpoints:
            times, fuel = [], []
            for _ in range(7):
                r = requests.request(method, self.e.issuer + path, data=data, timeout=30, **kw)
                self.assertLess(r.status_code, 300, "%s: %s" % (label, r.text))
                m = re.search(r'dur=([0-9.]+);desc="[^"]* fuel ([0-9]+)"',
                              r.headers.get("server-timing", ""))
                self.assertIsNotNone(m, r.headers)
                times.append(float(m.group(1)))
                fuel.append(int(m.group(2)))
            times.sort()
            rows.append("| %s | %.2f | %.2f | %d |" % (label, times[len(times) // 2], times[0],
                                                       sorted(fuel)[len(fuel) // 2]))
        print("\n| endpoint | median ms | min ms | Wasm instructions |\n|---|---|---|---|\n" +
              "\n".join(rows), file=sys.stderr)

    def test_abi_conformance_suite(self):
        """tests/conformance through its HTTP driver against the edge; the cases the edge
        answers differently are declared, with reasons, in differences/edge.json."""
        if not os.path.exists(CASES):
            self.skipTest("no tests/conformance/cases.json")
        self.assertTrue(CONFORMANCE_BIN and os.path.exists(CONFORMANCE_BIN),
                        "HABANERO_CONFORMANCE_BIN must name abi_conformance_test")
        # fetch_base: any reachable web server (the native one); the edge answers
        # UNAVAILABLE before fetching, which differences/edge.json declares.
        env = dict(os.environ, HABANERO_CONFORMANCE_URL=self.e.issuer,
                   HABANERO_CONFORMANCE_HOST="edge",
                   HABANERO_CONFORMANCE_FIXTURE_FETCH_BASE=self.e.server_url)
        out = subprocess.run([CONFORMANCE_BIN, "--gtest_brief=1"], env=env, capture_output=True,
                             text=True, timeout=600)
        summary = re.findall(r"^\[  (?:PASSED|FAILED|SKIPPED) .*$", out.stdout, re.M)
        print("\n".join(summary), file=sys.stderr)
        self.assertEqual(out.returncode, 0, out.stdout[-8000:] + out.stderr[-2000:] +
                         "\n---- viceroy ----\n" + self.e.edge.log(60))

    def test_openid_client_suite(self):
        """tests/interop/node/openid_client.test.mjs against the edge: code + PKCE with the
        password login and consent, JWT access tokens against jwks_uri, userinfo,
        introspection, refresh rotation, the public client, client credentials, revocation."""
        run_openid_client(self, self.e)


def run_openid_client(test, e):
    """Runs the openid-client suite of tests/interop/node against the edge `e`."""
    modules = os.path.join(CACHE, "node", "node_modules")
    test.assertTrue(os.path.isdir(modules), "run scripts/setup-interop.sh")
    work = tempfile.mkdtemp(prefix="habanero-edge-node-")
    try:
        node_dir = os.path.join(HERE, "..", "interop", "node")
        for f in ("openid_client.test.mjs", "browser.mjs", "package.json"):
            shutil.copy(os.path.join(node_dir, f), work)
        os.symlink(modules, os.path.join(work, "node_modules"))
        env = dict(os.environ, HABANERO_ISSUER=e.issuer, RP_CLIENT_ID="rp",
                   RP_CLIENT_SECRET=e.secret, RP_REDIRECT_URI=hi.REDIRECT_URI,
                   PUBLIC_CLIENT_ID="rp-public", PUBLIC_REDIRECT_URI=hi.LOOPBACK_REDIRECT_URI,
                   USER_EMAIL=hi.USER_EMAIL, USER_PASSWORD=hi.USER_PASSWORD)
        out = subprocess.run(["node", "--test", "--test-concurrency=1",
                              os.path.join(work, "openid_client.test.mjs")],
                             cwd=work, env=env, capture_output=True, text=True, timeout=600)
        test.assertEqual(out.returncode, 0, out.stdout[-6000:] + out.stderr[-3000:] +
                         "\n---- viceroy ----\n" + e.edge.log(120) +
                         "\n---- origin ----\n" + e.server.log(60))
    finally:
        shutil.rmtree(work, ignore_errors=True)


class SplitDeploymentTest(unittest.TestCase):
    """Deployment 2 of docs/edge.md, built from edge/extensions.login-at-origin.toml as
    shipped: discovery, JWKS, client-credentials tokens, userinfo and introspection at the
    edge; sign-in, consent, codes, refresh and revocation at the origin (the native server on
    the same data directory), revocations mirrored into the edge's KV."""

    @classmethod
    def setUpClass(cls):
        cls.e = Edge(SPLIT_WASM)

    @classmethod
    def tearDownClass(cls):
        cls.e.stop()

    def at_edge(self, r):
        """Whether the edge ran an extension for the response (the host's Server-Timing)."""
        return "server-timing" in r.headers

    def from_origin(self, r):
        """Whether the origin answered: its HTTP front names itself in Server, the edge
        host's pages and extensions never do."""
        return "server" in r.headers and not self.at_edge(r)

    def request(self, method, path, **kw):
        return requests.request(method, self.e.issuer + path, timeout=30, allow_redirects=False,
                                **kw)

    def test_each_route_is_answered_where_the_file_says(self):
        for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
                     "/jwks.json", "/hello/"):
            r = self.request("GET", path)
            self.assertEqual(r.status_code, 200, path)
            self.assertTrue(self.at_edge(r), path)
        # Sign-in and authorization: the origin (its HTTP front names itself in Server).
        self.assertFalse(self.from_origin(self.request("GET", "/jwks.json")))
        browser = requests.Session()
        _, challenge = hi.pkce_pair()
        url, _ = hi.authorization_url(self.e, "rp", challenge=challenge)
        hops = []
        while len(hops) < 4:
            r = browser.get(url, timeout=30, allow_redirects=False)
            hops.append(r)
            if r.status_code != 302:
                break
            url = urllib.parse.urljoin(self.e.issuer, r.headers["location"])
            self.assertTrue(url.startswith(self.e.issuer), url)
        # /authorize -> /login -> /login/password/: every hop answered by the origin, and
        # the last one is the password form.
        self.assertGreaterEqual(len(hops), 3, [h.url for h in hops])
        for h in hops:
            self.assertTrue(self.from_origin(h), (h.url, h.status_code, dict(h.headers)))
        self.assertEqual(hops[-1].status_code, 200, hops[-1].text)
        self.assertIn('type="password"', hops[-1].text)
        # /token: client_credentials at the edge; every other grant goes to the origin.
        cc = self.request("POST", "/token", auth=("rp", self.e.secret),
                          data={"grant_type": "client_credentials"})
        self.assertEqual(cc.status_code, 200, cc.text)
        self.assertTrue(self.at_edge(cc))
        code = self.request("POST", "/token", auth=("rp", self.e.secret),
                            data={"grant_type": "authorization_code", "code": "nope",
                                  "redirect_uri": hi.REDIRECT_URI, "code_verifier": "x" * 43})
        self.assertEqual(code.status_code, 400, code.text)
        self.assertEqual(code.json()["error"], "invalid_grant")
        self.assertFalse(self.at_edge(code))
        # A condition holds only for one unambiguous value: a repeated grant_type goes to the
        # origin, which refuses it.
        twice = self.request("POST", "/token", auth=("rp", self.e.secret),
                             data=[("grant_type", "client_credentials"),
                                   ("grant_type", "client_credentials")])
        self.assertFalse(self.at_edge(twice))
        self.assertEqual(twice.status_code, 400, twice.text)

    def test_revocation_at_the_origin_reaches_the_edge(self):
        token = self.request("POST", "/token", auth=("rp", self.e.secret),
                             data={"grant_type": "client_credentials"}).json()["access_token"]
        other = self.request("POST", "/token", auth=("rp", self.e.secret),
                             data={"grant_type": "client_credentials"}).json()["access_token"]

        def active_at_edge(t):
            r = self.request("POST", "/introspect", auth=("rp", self.e.secret), data={"token": t})
            self.assertTrue(self.at_edge(r))
            return r.json()["active"]

        self.assertTrue(active_at_edge(token))
        # Through the edge: the origin answers (no Server-Timing), the edge records it too.
        r = self.request("POST", "/revoke", auth=("rp", self.e.secret), data={"token": token})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertFalse(self.at_edge(r))
        self.assertFalse(active_at_edge(token))
        native = requests.post(self.e.server_url + "/introspect", auth=("rp", self.e.secret),
                               data={"token": token}, timeout=30).json()
        self.assertFalse(native["active"])
        # Revoked at the origin directly (not through the edge), the edge does not know:
        # what docs/edge.md says of revocations the edge never saw.
        requests.post(self.e.server_url + "/revoke", auth=("rp", self.e.secret),
                      data={"token": other}, timeout=30).raise_for_status()
        self.assertTrue(active_at_edge(other))
        # A refused revocation (wrong secret) is the origin's answer, and the edge runs nothing.
        bad = self.request("POST", "/revoke", auth=("rp", "wrong"), data={"token": other})
        self.assertEqual(bad.status_code, 401, bad.text)

    def test_openid_client_suite(self):
        """The whole openid-client suite through deployment 2: the client sees one issuer."""
        run_openid_client(self, self.e)


class OperatorFileTest(unittest.TestCase):
    """The operator's extensions file is checked when the package is built (build.rs): each
    mistake stops the build with a message naming the file, the extension and the problem."""

    OAUTH2 = ('[[extensions]]\nname = "oauth2"\nmount = "/"\ngrants = %s\n'
              % json.dumps(["http", "log", "kv", "crypto", "keys", "clock", "settings",
                            "sessions", "users", "clients", "fetch"]))

    def build(self, text):
        work = tempfile.mkdtemp(prefix="habanero-edge-file-")
        try:
            path = os.path.join(work, "extensions.toml")
            with open(path, "w") as f:
                f.write(text)
            return subprocess.run(
                [os.path.join(HERE, "..", "..", "scripts", "setup-edge.sh"), "build",
                 os.environ["HABANERO_WASM_OUT"], os.path.join(work, "out"), path],
                capture_output=True, text=True, timeout=600), path
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_mistakes_are_named(self):
        cases = [
            ('origin = "origin"\n' + self.OAUTH2 + 'routes = ["/nope?grant_type=x"]\n',
             "oauth2: route /nope is not a route of its manifest"),
            ('origin = "origin"\n' + self.OAUTH2 + 'routes = ["/token?grant_type"]\n',
             "oauth2: route /token?grant_type: condition 'grant_type': expected name=value"),
            ('origin = "origin"\n' + self.OAUTH2 + 'routes = ["/token?grant_type=a b"]\n',
             "condition 'grant_type=a b': expected name=value"),
            (self.OAUTH2 + 'mirror = ["/revoke"]\n',
             "oauth2: mirror needs an origin"),
            ('origin = "origin"\n' + self.OAUTH2 + 'routes = ["/revoke"]\nmirror = ["/revoke"]\n',
             "oauth2: /revoke is both served at the edge (routes) and mirrored"),
            ('origin = "origin"\n' + self.OAUTH2 + 'mirror = ["/nope"]\n',
             "oauth2: mirror /nope is not a route of its manifest"),
        ]
        for text, message in cases:
            out, path = self.build(text)
            self.assertNotEqual(out.returncode, 0, text)
            self.assertIn("%s: %s" % (path, message) if message.startswith("oauth2")
                          else message, out.stderr, text)


if __name__ == "__main__":
    unittest.main()
