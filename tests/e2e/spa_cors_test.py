"""A single-page app on another origin, in a real browser (Debian's Chromium via
playwright-core), issue 16 (CORS for browser-based public clients).

The SPA is static files served from its own loopback port (another origin than the
server's). Its JavaScript makes a PKCE pair with WebCrypto, sends the browser to
/authorize, and on its callback page redeems the code with fetch() POST /token and
calls /userinfo with the access token — cross-origin requests the browser lets the
page read only if the server's CORS answer allows the SPA's origin (the origin of the
public client's registered redirect URI). A page on a third, unregistered origin then
tries the same /token call: the browser refuses it (fetch rejects), while discovery
stays readable from anywhere. Screenshots: $HABANERO_E2E_ARTIFACTS/spa_cors/.

    tests/e2e/run.sh spa_cors_test.py
"""
import functools
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import Browser  # noqa: E402
from magic_common import MagicServer, MagicTestCase  # noqa: E402

ALICE = "alice@example.com"
PASSWORD = "correct horse battery staple"

# The SPA: start.html begins the flow, cb.html finishes it; both write what happened
# into #result (JSON) and set #done when finished.
START_HTML = """<!doctype html><meta charset="utf-8"><title>SPA</title>
<p id="result">starting</p>
<script>
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
(async () => {
  const params = new URLSearchParams(location.search);
  const issuer = params.get("issuer");
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(12)));
  sessionStorage.setItem("pkce", JSON.stringify({issuer, verifier, state}));
  const q = new URLSearchParams({response_type: "code", client_id: "spa",
    redirect_uri: location.origin + "/cb.html", scope: "openid email", state,
    code_challenge: challenge, code_challenge_method: "S256"});
  location.assign(issuer + "/authorize?" + q);
})();
</script>
"""

CB_HTML = """<!doctype html><meta charset="utf-8"><title>SPA callback</title>
<pre id="result">working</pre>
<script>
(async () => {
  const out = {};
  try {
    const saved = JSON.parse(sessionStorage.getItem("pkce"));
    const params = new URLSearchParams(location.search);
    out.state_ok = params.get("state") === saved.state;
    const tokenResponse = await fetch(saved.issuer + "/token", {method: "POST",
      body: new URLSearchParams({grant_type: "authorization_code", code: params.get("code"),
        redirect_uri: location.origin + "/cb.html", client_id: "spa",
        code_verifier: saved.verifier})});
    out.token_status = tokenResponse.status;
    const tokens = await tokenResponse.json();
    out.token_type = tokens.token_type;
    out.has_id_token = typeof tokens.id_token === "string";
    const userinfo = await fetch(saved.issuer + "/userinfo",
      {headers: {Authorization: "Bearer " + tokens.access_token}});
    out.userinfo_status = userinfo.status;
    out.userinfo = await userinfo.json();
  } catch (e) {
    out.error = String(e);
  }
  document.getElementById("result").textContent = JSON.stringify(out);
  document.body.insertAdjacentHTML("beforeend", '<p id="done">done</p>');
})();
</script>
"""

# A page on an origin no client registered.
FOREIGN_HTML = """<!doctype html><meta charset="utf-8"><title>Foreign</title>
<pre id="result">working</pre>
<script>
(async () => {
  const issuer = new URLSearchParams(location.search).get("issuer");
  const out = {};
  try {
    const r = await fetch(issuer + "/token", {method: "POST",
      body: new URLSearchParams({grant_type: "authorization_code", code: "x",
        redirect_uri: "http://elsewhere.example/cb", client_id: "spa", code_verifier: "v"})});
    out.token = "read " + r.status;
  } catch (e) {
    out.token = "refused";
  }
  try {
    const r = await fetch(issuer + "/userinfo", {headers: {Authorization: "Bearer x"}});
    out.userinfo = "read " + r.status;
  } catch (e) {
    out.userinfo = "refused";
  }
  try {
    const r = await fetch(issuer + "/.well-known/openid-configuration");
    out.discovery = (await r.json()).issuer === issuer ? "read" : "wrong";
  } catch (e) {
    out.discovery = "refused";
  }
  document.getElementById("result").textContent = JSON.stringify(out);
  document.body.insertAdjacentHTML("beforeend", '<p id="done">done</p>');
})();
</script>
"""


class StaticSite:
    """Files from a temporary directory on a loopback port of their own (one origin)."""

    def __init__(self, files):
        self.dir = tempfile.mkdtemp(prefix="habanero-spa-")
        for name, text in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=self.dir)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SpaCorsTest(MagicTestCase):
    def test_spa_on_another_origin_completes_code_and_pkce(self):
        with StaticSite({"start.html": START_HTML, "cb.html": CB_HTML}) as spa, \
                StaticSite({"foreign.html": FOREIGN_HTML}) as foreign, \
                Browser(name="spa_cors") as b:
            self.server = MagicServer(authenticators=("password",))
            self.server.cli("user", "add", "--email", ALICE, "--password-stdin",
                            input=PASSWORD + "\n")
            self.server.cli("client", "add", "--id", "spa", "--public", "--first-party",
                            "--redirect-uri", spa.origin + "/cb.html",
                            "--scopes", "openid email", "--name", "SPA")
            issuer = self.server.issuer
            self.assertNotEqual(spa.origin, issuer)

            b.goto(spa.origin + "/start.html?issuer=" + issuer)
            b.wait_for_url(issuer + "/login")
            if b.count("input[name=password]") == 0:  # the list of sign-in methods first
                b.click("text=Email and password")
            b.screenshot("password-form")
            b.fill("input[name=email]", ALICE)
            b.fill("input[name=password]", PASSWORD)
            b.click("button[type=submit]")
            if not b.url().startswith(spa.origin) and b.count("button[value=approve]"):
                b.click("button[value=approve]", screenshot="consent")
            b.wait_for_url(spa.origin + "/cb.html")
            b.wait_for_selector("#done")
            b.screenshot("spa-callback")
            result = json.loads(b.text("#result"))
            self.assertNotIn("error", result, result)
            self.assertTrue(result["state_ok"], result)
            self.assertEqual(result["token_status"], 200, result)
            self.assertEqual(result["token_type"].lower(), "bearer", result)
            self.assertTrue(result["has_id_token"], result)
            self.assertEqual(result["userinfo_status"], 200, result)
            self.assertEqual(result["userinfo"]["email"], ALICE, result)

            # An origin no client registered: the browser keeps the answers from the page.
            b.goto(foreign.origin + "/foreign.html?issuer=" + issuer)
            b.wait_for_selector("#done")
            b.screenshot("foreign-origin")
            result = json.loads(b.text("#result"))
            self.assertEqual(result, {"token": "refused", "userinfo": "refused",
                                      "discovery": "read"})


if __name__ == "__main__":
    unittest.main()
