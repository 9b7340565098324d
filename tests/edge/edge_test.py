"""The edge host under Viceroy (issue 15): the unchanged extension modules on Fastly Compute.

One data directory is prepared with the habanero CLI (a user, a confidential client "rp" and a
public client "rp-public"), exported with `habanero edge export`, and served by Viceroy running
the edge program that tests/edge/CMakeLists.txt built (HABANERO_EDGE_WASM). A native
`habanero serve` on the same data directory and issuer checks that tokens issued at the edge
are the server's. The openid-client suite of tests/interop/node runs against the edge as it
runs against the server.

The ABI conformance suite (tests/conformance) runs against the edge through its HTTP driver:
the edge program embeds every setup of cases.json (prepare.py), the fixtures are seeded here,
and differences are declared in tests/conformance/differences/edge.json (docs/edge.md).

Environment: HABANERO_BIN, HABANERO_WASM_OUT, HABANERO_EDGE_WASM (the built program; its
modules in ../wasm), VICEROY, HABANERO_INTEROP_CACHE, HABANERO_CONFORMANCE_BIN.
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

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import habanero_interop as hi  # noqa: E402

EDGE_WASM = os.environ.get("HABANERO_EDGE_WASM", "")
# The modules the edge program embeds (tests/edge/prepare.py wrote them next to bin/).
EDGE_MODULES = os.path.join(os.path.dirname(os.path.dirname(EDGE_WASM)), "wasm")
CONFORMANCE_BIN = os.environ.get("HABANERO_CONFORMANCE_BIN", "")
CASES = os.path.join(HERE, "..", "conformance", "cases.json")
VICEROY = os.environ.get("VICEROY", "")
CACHE = os.environ.get("HABANERO_INTEROP_CACHE", "")


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Process:
    """A child process whose output is collected by a thread."""

    def __init__(self, args, ready=None):
        self.lines = []
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
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

    def __init__(self):
        for name in ("HABANERO_BIN", "HABANERO_WASM_OUT", "HABANERO_EDGE_WASM", "VICEROY"):
            if not os.environ.get(name):
                raise RuntimeError(name + " must be set (run through tests/edge/run.sh)")
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
        self.edge = Process([VICEROY, "-C", os.path.join(self.stores, "fastly.toml"),
                             "--addr", "127.0.0.1:%d" % self.port, EDGE_WASM],
                            ready=r"Listening on")
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
        modules = os.path.join(CACHE, "node", "node_modules")
        self.assertTrue(os.path.isdir(modules), "run scripts/setup-interop.sh")
        work = tempfile.mkdtemp(prefix="habanero-edge-node-")
        try:
            node_dir = os.path.join(HERE, "..", "interop", "node")
            for f in ("openid_client.test.mjs", "browser.mjs", "package.json"):
                shutil.copy(os.path.join(node_dir, f), work)
            os.symlink(modules, os.path.join(work, "node_modules"))
            env = dict(os.environ, HABANERO_ISSUER=self.e.issuer, RP_CLIENT_ID="rp",
                       RP_CLIENT_SECRET=self.e.secret, RP_REDIRECT_URI=hi.REDIRECT_URI,
                       PUBLIC_CLIENT_ID="rp-public", PUBLIC_REDIRECT_URI=hi.LOOPBACK_REDIRECT_URI,
                       USER_EMAIL=hi.USER_EMAIL, USER_PASSWORD=hi.USER_PASSWORD)
            out = subprocess.run(["node", "--test", "--test-concurrency=1",
                                  os.path.join(work, "openid_client.test.mjs")],
                                 cwd=work, env=env, capture_output=True, text=True, timeout=600)
            self.assertEqual(out.returncode, 0, out.stdout[-6000:] + out.stderr[-3000:] +
                             "\n---- viceroy ----\n" + self.e.edge.log(120))
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
