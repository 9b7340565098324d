"""IndieAuth interop and negative tests (issue 6): a real Habanero with the indieauth extension
mounted at /indieauth, a third-party IndieAuth client, and one negative test per rule of the
IndieAuth living standard (11 July 2024) the extension enforces.

Third-party client: PyPI `indieweb-utils` (discover_indieauth_endpoints: discovery from a
profile URL through rel="indieauth-metadata"; indieauth_callback_handler: redemption at the
token endpoint with PKCE, checking `me` and the scopes; is_authenticated: token verification).
The issue names the Go client go.hacdias.com/indielib/indieauth, but the Go module proxy refuses
it on our machines (tests/interop/indieauth/README.md); the flow it would run — discovery,
PKCE, the `iss` check, redemption at both endpoints, §5.4 confirmation of the returned `me` — is
driven here with indieweb-utils and plain HTTP for the steps that library lacks.

The clients' documents (client_id URLs) and the users' own websites are served by a small HTTP
server on loopback (`localhost` for client_ids that must be fetched: the standard forbids
fetching a client_id on 127.0.0.1); the server runs with [outbound] allow_loopback = true and
the indieauth setting allow_loopback_profiles = true, both development switches.
"""
import html
import http.server
import json
import re
import secrets
import threading
import time
import unittest
import urllib.parse

import requests

import habanero_interop as hi

MOUNT = "/indieauth"
INTROSPECTION_TOKEN = secrets.token_urlsafe(32)
PASSWORD = hi.USER_PASSWORD
ANA = ("ana@example.com", "Ana Example")
BOB = ("bob@example.com", "Bob Example")
CAT = ("cat@example.com", "Cat Example")
DAN = ("dan@example.com", "Dan Example")


class Web:
    """A tiny HTTP server on 127.0.0.1 serving fixed documents, recording every request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        web = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self, body_too):
                web.requests.append((self.command, self.path, dict(self.headers)))
                route = web.routes.get(self.path) or web.routes.get(self.path.split("?")[0])
                status, headers, body = route or (404, [("Content-Type", "text/plain")], b"no\n")
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body_too:
                    self.wfile.write(body)

            def do_GET(self):
                self._answer(True)

            def do_HEAD(self):
                self._answer(False)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path, host="localhost"):
        return "http://%s:%d%s" % (host, self.port, path)

    def set(self, path, body, content_type="text/html; charset=utf-8", status=200, headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.routes[path] = (status, [("Content-Type", content_type), *headers], body)

    def set_json(self, path, obj):
        self.set(path, json.dumps(obj), "application/json")

    def hits(self, path):
        return [r for r in self.requests if r[1].split("?")[0] == path]

    def stop(self):
        self.httpd.shutdown()


class IndieHabanero(hi.Habanero):
    """hi.Habanero (oauth2 at /, password at /login/password) plus indieauth at /indieauth."""

    def __init__(self, indieauth_settings=None):
        self.indieauth_settings = dict(indieauth_settings or {})
        super().__init__()

    @property
    def base(self):
        return self.issuer + MOUNT

    def _write_config(self):
        super()._write_config()
        text = "[[extensions]]\n"
        text += 'name = "indieauth"\nmodule = "indieauth.wasm"\nmount = "%s"\n' % MOUNT
        text += "grants = %s\n" % hi.toml_value(hi.manifest_capabilities("indieauth"))
        text += "deadline_ms = 15000\n"
        if self.indieauth_settings:
            text += "[extensions.settings]\n"
            for k, v in self.indieauth_settings.items():
                text += "%s = %s\n" % (k, hi.toml_value(v))
        text += "[outbound]\nallow_loopback = true\nfetch_timeout_ms = 3000\n"
        with open(self.config, "a") as f:
            f.write(text)

    def add_indie_user(self, email, name, website=None):
        """Adds a user; returns the subject `habanero user add` printed."""
        args = ["user", "add", "--email", email, "--password-stdin", "--name", name]
        if website:
            args += ["--website", website]
        out = self.cli(*args, input=PASSWORD + "\n")
        m = re.search(r"subject ([A-Za-z0-9_-]+)", out.stdout)
        if not m:
            raise AssertionError("no subject in `user add` output:\n" + out.stdout)
        return m.group(1)


class Flow:
    """One authorization request: its URL, PKCE verifier and, after run(), the callback."""

    def __init__(self, server, client_id, redirect_uri, scope="profile", state=None,
                 pkce=True, method="S256", **extra):
        self.server = server
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.verifier, challenge = hi.pkce_pair()
        self.state = state if state is not None else secrets.token_urlsafe(16)
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "state": self.state}
        if scope is not None:
            params["scope"] = scope
        if pkce:
            params["code_challenge"] = challenge
            if method is not None:
                params["code_challenge_method"] = method
        params.update(extra)
        params = {k: v for k, v in params.items() if v is not None}
        self.url = server.base + "/auth?" + urllib.parse.urlencode(params)
        self.callback = None
        self.response = {}

    def run(self, browser, email, deny=False):
        self.callback = browser.authorize(self.url, email, PASSWORD, self.redirect_uri,
                                          deny_consent=deny)
        self.response = hi.query_of(self.callback)
        return self

    @property
    def code(self):
        if "code" not in self.response:
            raise AssertionError("no code in %s" % self.callback)
        return self.response["code"]

    def redeem(self, endpoint="/token", verifier=True, **overrides):
        data = {"grant_type": "authorization_code", "code": self.code,
                "client_id": self.client_id, "redirect_uri": self.redirect_uri}
        if verifier is True:
            data["code_verifier"] = self.verifier
        elif isinstance(verifier, str):
            data["code_verifier"] = verifier
        data.update(overrides)
        data = {k: v for k, v in data.items() if v is not None}
        return requests.post(self.server.base + endpoint, data=data,
                             headers={"Accept": "application/json"}, timeout=30)


class IndieAuthTestBase(hi.ServerTestCase):
    server = None

    def assertOAuthError(self, r, status, error):
        self.assertEqual(r.status_code, status, hi.exchange(r))
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"),
                        hi.exchange(r))
        self.assertEqual(r.json().get("error"), error, hi.exchange(r))

    def assertErrorPage(self, url, status=400, text=None):
        """The authorization endpoint answers with an error page, never a redirect."""
        r = requests.get(url, allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, status, hi.exchange(r))
        self.assertNotIn("Location", r.headers, hi.exchange(r))
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/html"), hi.exchange(r))
        if text:
            self.assertIn(text, r.text, hi.exchange(r))
        return r

    def assertRefusedOnOurPage(self, flow, error, description=None):
        """The request is refused with a page on the server's origin, never a redirect: the
        user has not seen the client yet, and anyone can name any URL as client_id (issue 16,
        RFC 9700 §4.11.2)."""
        r = self.assertErrorPage(flow.url, 400, error)
        if description:
            self.assertIn(description, r.text, hi.exchange(r))
        return r

    def introspect(self, token, auth="bearer"):
        headers = {"Accept": "application/json"}
        basic = None
        if auth == "bearer":
            headers["Authorization"] = "Bearer " + INTROSPECTION_TOKEN
        elif isinstance(auth, tuple):
            basic = auth
        return requests.post(self.server.base + "/introspect", data={"token": token},
                             headers=headers, auth=basic, timeout=30)


class IndieAuthTest(IndieAuthTestBase):
    @classmethod
    def setUpClass(cls):
        cls.web = Web()
        try:
            cls.server = IndieHabanero({"allow_loopback_profiles": "true",
                                        "introspection_token": INTROSPECTION_TOKEN})
        except BaseException:
            cls.web.stop()
            raise
        try:
            cls.setUpDocuments()
            cls.ana = cls.server.add_indie_user(*ANA)
            cls.bob = cls.server.add_indie_user(*BOB, website=cls.web.url("/bob/"))
            cls.cat = cls.server.add_indie_user(*CAT, website=cls.web.url("/cat/"))
            # Dan's "website" is Ana's hosted profile, which links to the server as well.
            cls.dan = cls.server.add_indie_user(*DAN, website=cls.server.base + "/u/" + cls.ana)
            cls.rs_secret = cls.server.add_client("micropub-rs", redirect_uris=[hi.REDIRECT_URI],
                                                  scopes="openid", name="Micropub endpoint")
            cls.browser = hi.Browser()  # Ana's browser, signed in by the first flow
            Flow(cls.server, cls.app_id, cls.app_cb).run(cls.browser, ANA[0])
        except BaseException:
            print(cls.server.log_tail(80))
            cls.server.stop()
            cls.web.stop()
            raise

    @classmethod
    def setUpDocuments(cls):
        web, meta = cls.web, cls.server.base + "/.well-known/oauth-authorization-server"
        cls.app_id = web.url("/app/")
        cls.app_cb = web.url("/app/callback")
        cls.app_other_cb = "https://elsewhere.example/callback"
        web.set_json("/app/", {"client_id": cls.app_id, "client_name": "Interop App",
                               "client_uri": cls.app_id, "logo_uri": web.url("/app/logo.png"),
                               "redirect_uris": [cls.app_cb, cls.app_other_cb]})
        web.set_json("/liar/", {"client_id": web.url("/someone-else/"), "client_name": "Liar",
                                "redirect_uris": [web.url("/liar/cb")]})
        cls.happ_id = web.url("/happ/")
        web.set("/happ/", "<!doctype html><html><head>"
                "<link rel=\"redirect_uri\" href=\"https://native.example/cb\"></head><body>"
                "<div class=\"h-app\"><img class=\"u-logo\" src=\"/happ/logo.png\" alt=\"\">"
                "<a class=\"u-url p-name\" href=\"/happ/\">H-App Client</a></div></body></html>")
        cls.header_id = web.url("/hdr/")
        web.set("/hdr/", "plain", "text/plain",
                headers=[("Link", "<https://header.example/cb>; rel=\"redirect_uri\"")])
        web.set("/bob/", "<!doctype html><html><head><link rel=\"indieauth-metadata\" href=\"%s\">"
                "</head><body class=\"h-card\">Bob</body></html>" % meta)
        web.set("/cat/", "<!doctype html><html><head><title>Cat</title></head></html>")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.web.stop()

    def profile_url(self, sub):
        return self.server.base + "/u/" + sub

    def flow(self, client_id=None, redirect_uri=None, browser=None, email=ANA[0], deny=False,
             **kw):
        f = Flow(self.server, client_id or self.app_id, redirect_uri or self.app_cb, **kw)
        return f.run(browser or self.browser, email, deny=deny)

    def tokens(self, scope="profile create"):
        f = self.flow(scope=scope)
        r = f.redeem("/token")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        return r.json()

    # ---- discovery ----------------------------------------------------------------------------

    def test_metadata(self):
        url = self.server.base + "/.well-known/oauth-authorization-server"
        r = requests.get(url, timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        m = r.json()
        self.assertEqual(m["issuer"], self.server.base)
        self.assertTrue(url.startswith(m["issuer"]))  # §3.1: a prefix of the metadata URL
        self.assertNotRegex(m["issuer"], r"[?#]")
        for key, path in (("authorization_endpoint", "/auth"), ("token_endpoint", "/token"),
                          ("introspection_endpoint", "/introspect"),
                          ("revocation_endpoint", "/revoke"), ("userinfo_endpoint", "/userinfo")):
            self.assertEqual(m[key], self.server.base + path, key)
        self.assertEqual(m["code_challenge_methods_supported"], ["S256"])
        self.assertIs(m["authorization_response_iss_parameter_supported"], True)
        self.assertEqual(m["response_types_supported"], ["code"])
        self.assertIn("authorization_code", m["grant_types_supported"])
        self.assertEqual(m["revocation_endpoint_auth_methods_supported"], ["none"])
        self.assertTrue(m["introspection_endpoint_auth_methods_supported"])
        for s in ("profile", "email", "create"):
            self.assertIn(s, m["scopes_supported"])
        head = requests.head(url, timeout=30)
        self.assertEqual(head.status_code, 200)

    def test_profile_page_advertises_the_server(self):
        url = self.profile_url(self.ana)
        for method in ("GET", "HEAD"):
            r = requests.request(method, url, timeout=30)
            self.assertEqual(r.status_code, 200, hi.exchange(r))
            self.assertEqual(r.links["indieauth-metadata"]["url"],
                             self.server.base + "/.well-known/oauth-authorization-server")
            self.assertEqual(r.links["authorization_endpoint"]["url"], self.server.base + "/auth")
            self.assertEqual(r.links["token_endpoint"]["url"], self.server.base + "/token")
        page = requests.get(url, timeout=30).text
        self.assertIn('<link rel="indieauth-metadata" href="%s/.well-known/oauth-authorization-server">'
                      % self.server.base, page)
        self.assertIn('<link rel="authorization_endpoint"', page)
        self.assertIn('<link rel="token_endpoint"', page)
        self.assertIn('class="h-card"', page)
        self.assertIn('class="u-url u-uid p-name" href="%s">Ana Example</a>' % url, page)
        self.assertNotIn(ANA[0], page)  # no email on the public page

    def test_profile_page_of_unknown_user_is_404(self):
        for sub in ("A" * 43, "nope", "..", "%2e%2e", "x/y"):
            r = requests.get(self.server.base + "/u/" + sub, timeout=30)
            self.assertIn(r.status_code, (400, 404), sub)

    # ---- the third-party client end to end -------------------------------------------------------

    def test_third_party_client_end_to_end(self):
        try:
            import indieweb_utils
        except ImportError as e:  # installed by scripts/setup-interop.sh (requirements.txt)
            self.fail("PyPI indieweb-utils is not installed: %s" % e)
        me = self.profile_url(self.ana)
        # Discovery from the profile URL (rel="indieauth-metadata", then the metadata document).
        ep = indieweb_utils.discover_indieauth_endpoints(me)
        self.assertTrue(ep.metadata_endpoint_found)
        self.assertEqual(ep.issuer, self.server.base)
        self.assertEqual(ep.authorization_endpoint, self.server.base + "/auth")
        self.assertEqual(ep.token_endpoint, self.server.base + "/token")
        self.assertIn("S256", ep.code_challenge_methods_supported)
        self.assertTrue(ep.authorization_response_iss_parameter_supported)

        # Authorization with PKCE (S256), at the discovered endpoint, me as the hint.
        verifier, challenge = hi.pkce_pair()
        state = secrets.token_urlsafe(16)
        url = ep.authorization_endpoint + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": self.app_id, "redirect_uri": self.app_cb,
            "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
            "scope": "profile create", "me": me})
        q = hi.query_of(self.browser.authorize(url, ANA[0], PASSWORD, self.app_cb))
        self.assertEqual(q["iss"], ep.issuer)  # RFC 9207, simple string comparison
        self.assertIn("code", q)

        # Redemption at the token endpoint: state, me and scope checked by the library.
        result = indieweb_utils.indieauth_callback_handler(
            code=q["code"], state=q["state"], token_endpoint=ep.token_endpoint,
            code_verifier=verifier, session_state=state, me=me, callback_url=self.app_cb,
            client_id=self.app_id, required_scopes=["create"])
        token = result.response
        self.assertEqual(token["me"], me)
        self.assertEqual(token["token_type"], "Bearer")
        self.assertEqual(token["profile"]["name"], ANA[1])
        # The library's token verification (GET the token endpoint with the Bearer token).
        self.assertTrue(indieweb_utils.is_authenticated(
            ep.token_endpoint, {"Authorization": "Bearer " + token["access_token"]}, {}))
        self.assertFalse(indieweb_utils.is_authenticated(
            ep.token_endpoint, {"Authorization": "Bearer " + "x" * 43}, {}))

        # Authentication only: redeem a second code at the authorization endpoint.
        verifier, challenge = hi.pkce_pair()
        url = ep.authorization_endpoint + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": self.app_id, "redirect_uri": self.app_cb,
            "state": state, "code_challenge": challenge, "code_challenge_method": "S256",
            "scope": "profile", "me": me})
        q = hi.query_of(self.browser.authorize(url, ANA[0], PASSWORD, self.app_cb))
        self.assertEqual(q["iss"], ep.issuer)
        r = requests.post(ep.authorization_endpoint, data={
            "grant_type": "authorization_code", "code": q["code"], "client_id": self.app_id,
            "redirect_uri": self.app_cb, "code_verifier": verifier},
            headers={"Accept": "application/json"}, timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        body = r.json()
        self.assertEqual(body["me"], me)
        self.assertNotIn("access_token", body)
        # §5.4: the returned me declares the same authorization endpoint.
        again = indieweb_utils.discover_indieauth_endpoints(body["me"])
        self.assertEqual(again.authorization_endpoint, ep.authorization_endpoint)

    # ---- redemption ---------------------------------------------------------------------------------

    def test_redeem_at_authorization_endpoint(self):
        f = self.flow(scope="profile email")
        self.assertEqual(f.response["state"], f.state)
        self.assertEqual(f.response["iss"], self.server.base)
        r = f.redeem("/auth")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        body = r.json()
        self.assertEqual(body, {"me": self.profile_url(self.ana),
                                "profile": {"name": ANA[1], "url": self.profile_url(self.ana),
                                            "email": ANA[0]}})

    def test_token_endpoint_response(self):
        t = self.tokens("profile email create")
        self.assertEqual(t["token_type"], "Bearer")
        self.assertEqual(t["scope"], "profile email create")
        self.assertEqual(t["me"], self.profile_url(self.ana))
        self.assertRegex(t["access_token"], r"^[A-Za-z0-9_-]{43}$")
        self.assertIn("refresh_token", t)
        self.assertGreater(t["expires_in"], 0)
        self.assertEqual(t["profile"]["email"], ANA[0])

    def test_profile_and_email_need_their_scopes(self):
        t = self.tokens("create")
        self.assertNotIn("profile", t)
        t = self.tokens("email create")  # email without profile is dropped (§5.3.4)
        self.assertEqual(t["scope"], "create")
        f = self.flow(scope="profile")
        body = f.redeem("/auth").json()
        self.assertNotIn("email", body["profile"])

    def test_no_scope_means_no_access_token(self):
        f = self.flow(scope=None)
        r = f.redeem("/token")
        self.assertOAuthError(r, 400, "invalid_grant")
        self.assertIn("authorization endpoint", r.json()["error_description"])
        self.assertNotIn("access_token", r.json())
        r = f.redeem("/auth")  # the code was not consumed
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json(), {"me": self.profile_url(self.ana)})

    def test_code_replay_is_refused_and_revokes(self):
        f = self.flow(scope="create")
        first = f.redeem("/token")
        self.assertEqual(first.status_code, 200, hi.exchange(first))
        token = first.json()["access_token"]
        self.assertTrue(self.introspect(token).json()["active"])
        self.assertOAuthError(f.redeem("/token"), 400, "invalid_grant")
        self.assertEqual(self.introspect(token).json(), {"active": False})
        self.assertOAuthError(f.redeem("/auth"), 400, "invalid_grant")

    def test_code_replay_at_authorization_endpoint(self):
        f = self.flow()
        self.assertEqual(f.redeem("/auth").status_code, 200)
        self.assertOAuthError(f.redeem("/auth"), 400, "invalid_grant")

    def test_wrong_verifier_is_refused_and_burns_the_code(self):
        f = self.flow()
        wrong, _ = hi.pkce_pair()
        self.assertOAuthError(f.redeem("/auth", verifier=wrong), 400, "invalid_grant")
        self.assertOAuthError(f.redeem("/auth"), 400, "invalid_grant")

    def test_missing_verifier_is_refused(self):
        f = self.flow(scope="create")
        self.assertOAuthError(f.redeem("/token", verifier=None), 400, "invalid_grant")
        f = self.flow()
        self.assertOAuthError(f.redeem("/auth", verifier="short"), 400, "invalid_grant")

    def test_redemption_must_repeat_client_and_redirect(self):
        f = self.flow()
        self.assertOAuthError(f.redeem("/auth", redirect_uri=self.app_other_cb), 400,
                              "invalid_grant")
        f = self.flow()
        self.assertOAuthError(f.redeem("/auth", client_id=self.happ_id), 400, "invalid_grant")
        f = self.flow()
        self.assertOAuthError(f.redeem("/auth", client_id=None), 400, "invalid_request")

    def test_basic_credentials_with_a_secret_are_refused(self):
        f = self.flow(scope="create")
        r = requests.post(self.server.base + "/token", auth=(self.app_id, "secret"), data={
            "grant_type": "authorization_code", "code": f.code, "redirect_uri": self.app_cb,
            "code_verifier": f.verifier}, timeout=30)
        self.assertOAuthError(r, 401, "invalid_client")
        # As golang.org/x/oauth2 sends it (Basic, empty password): accepted.
        r = requests.post(self.server.base + "/token",
                          auth=(urllib.parse.quote(self.app_id, safe=""), ""), data={
                              "grant_type": "authorization_code", "code": f.code,
                              "redirect_uri": self.app_cb, "code_verifier": f.verifier},
                          timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))

    def test_unsupported_grant_types(self):
        r = requests.post(self.server.base + "/auth", data={"grant_type": "refresh_token",
                                                             "refresh_token": "x"}, timeout=30)
        self.assertOAuthError(r, 400, "unsupported_grant_type")
        r = requests.post(self.server.base + "/token", data={"grant_type": "password"},
                          timeout=30)
        self.assertOAuthError(r, 400, "unsupported_grant_type")
        r = requests.post(self.server.base + "/token", data=json.dumps({"grant_type": "x"}),
                          headers={"Content-Type": "application/json"}, timeout=30)
        self.assertOAuthError(r, 400, "invalid_request")

    # ---- the authorization request --------------------------------------------------------------

    def test_pkce_is_required(self):
        self.assertRefusedOnOurPage(Flow(self.server, self.app_id, self.app_cb, pkce=False),
                                 "invalid_request", "PKCE")
        self.assertRefusedOnOurPage(Flow(self.server, self.app_id, self.app_cb, method="plain"),
                                 "invalid_request", "S256")
        self.assertRefusedOnOurPage(Flow(self.server, self.app_id, self.app_cb, method=None),
                                 "invalid_request", "S256")
        f = Flow(self.server, self.app_id, self.app_cb, method="plain",
                 code_challenge=hi.pkce_pair()[0])
        self.assertRefusedOnOurPage(f, "invalid_request")

    def test_state_and_response_type(self):
        self.assertRefusedOnOurPage(Flow(self.server, self.app_id, self.app_cb, state=""),
                                 "invalid_request", "state")
        self.assertRefusedOnOurPage(Flow(self.server, self.app_id, self.app_cb, response_type="id"),
                                 "unsupported_response_type")
        self.assertRefusedOnOurPage(Flow(self.server, self.app_id, self.app_cb, response_type="token"),
                                 "unsupported_response_type")

    def test_no_open_redirect_for_an_arbitrary_client(self):
        # Issue 16: any URL is a client_id, and its own origin is an allowed redirect; an
        # error for it used to be redirected there before anything about the client was known.
        for client_id, target in (("http://127.0.0.1:9/", "http://127.0.0.1:9/phish"),
                                  (self.app_id, self.app_cb)):
            for extra in ({"response_type": "token"}, {"response_type": "code", "pkce": False},
                          {"response_type": "code", "me": "mailto:x@example.com"}):
                with self.subTest(client_id=client_id, extra=extra):
                    flow = Flow(self.server, client_id, target, **extra)
                    r = self.assertErrorPage(flow.url, 400)
                    self.assertNotIn(target, r.headers.get("Location", ""))

    def test_bad_me_forms_are_refused(self):
        cases = {
            "https://example.com:8443/": "port",
            "https://172.28.92.51/": "IP address",
            "https://[2001:db8::1]/": "IP address",
            "https://127.1/": "IP address",
            "https://example.com/#me": "fragment",
            "https://user:pass@example.com/": "username or password",
            "https://example.com/foo/../bar": "double-dot",
            "https://example.com/./bar": "single-dot",
            "mailto:user@example.com": "http or https",
            "example.com": "scheme",
            "https://exa mple.com/": "spaces",
        }
        for me, why in cases.items():
            with self.subTest(me=me):
                r = self.assertRefusedOnOurPage(
                    Flow(self.server, self.app_id, self.app_cb, me=me), "invalid_request")
                self.assertIn("me ", r.text)
                self.assertIn(html.escape(why), r.text)

    def test_valid_me_hint_is_canonicalised_and_only_a_hint(self):
        f = Flow(self.server, self.app_id, self.app_cb, me="HTTPS://Example.COM")
        page = self.browser.session.get(f.url, allow_redirects=False, timeout=30)
        self.assertEqual(page.status_code, 200, hi.exchange(page))
        self.assertIn("https://example.com/", page.text)  # shown: the app expected another me
        f.run(self.browser, ANA[0])
        self.assertEqual(f.redeem("/auth").json()["me"], self.profile_url(self.ana))

    def test_bad_client_id_forms_are_refused_without_redirect(self):
        for client_id in ("https://app.example.com/#frag", "https://u:p@app.example.com/",
                          "https://app.example.com/a/../b", "https://app.example.com/./",
                          "https://10.0.0.1/", "https://[2001:db8::1]/", "https://127.0.0.2/",
                          "ftp://app.example.com/", "app.example.com", "/relative",
                          "https://app.example.com:99999/"):
            with self.subTest(client_id=client_id):
                f = Flow(self.server, client_id, self.app_cb)
                self.assertErrorPage(f.url, 400, "client_id")

    def test_missing_client_id_or_redirect_uri(self):
        f = Flow(self.server, self.app_id, self.app_cb)
        self.assertErrorPage(f.url.replace("client_id=", "x="), 400)
        self.assertErrorPage(f.url.replace("redirect_uri=", "x="), 400)
        self.assertErrorPage(f.url.replace("redirect_uri=http", "redirect_uri=%2Fcb%3Fhttp"), 400)

    def test_redirect_uri_on_another_host_must_be_listed(self):
        # Not listed in the metadata document: an error page, never a redirect (§10.1).
        f = Flow(self.server, self.app_id, "https://attacker.example/callback")
        self.assertErrorPage(f.url, 400, "https://attacker.example/callback")
        # Another port of the client's host is another origin too.
        f = Flow(self.server, self.app_id, self.web.url("/app/callback").replace(
            ":%d" % self.web.port, ":%d" % (self.web.port + 1 if self.web.port < 65535 else 1)))
        self.assertErrorPage(f.url, 400)
        # Listed: allowed.
        f = self.flow(redirect_uri=self.app_other_cb)
        self.assertTrue(f.callback.startswith(self.app_other_cb))
        self.assertIn("code", f.response)
        # Same origin as the client_id, not listed: allowed.
        f = self.flow(redirect_uri=self.web.url("/app/other-callback"))
        self.assertIn("code", f.response)

    def test_client_document_with_another_client_id_is_refused(self):
        f = Flow(self.server, self.web.url("/liar/"), self.web.url("/liar/cb"))
        self.assertErrorPage(f.url, 400, "another client_id")

    def test_client_document_is_fetched_as_json(self):
        page = self.browser.session.get(Flow(self.server, self.app_id, self.app_cb).url,
                                        allow_redirects=False, timeout=30)
        self.assertEqual(page.status_code, 200)
        hits = self.web.hits("/app/")
        self.assertTrue(hits)  # (the host may answer later fetches from its cache)
        accept = hits[-1][2].get("Accept", "")
        self.assertTrue(accept.startswith("application/json"), accept)
        self.assertIn("text/html", accept)

    def test_h_app_and_link_header_clients(self):
        page = self.browser.session.get(
            Flow(self.server, self.happ_id, "https://native.example/cb").url,
            allow_redirects=False, timeout=30)
        self.assertEqual(page.status_code, 200, hi.exchange(page))
        self.assertIn("H-App Client", page.text)
        f = self.flow(client_id=self.happ_id, redirect_uri="https://native.example/cb")
        self.assertIn("code", f.response)
        self.assertErrorPage(Flow(self.server, self.happ_id, "https://other.example/cb").url)
        f = self.flow(client_id=self.header_id, redirect_uri="https://header.example/cb")
        self.assertIn("code", f.response)

    def test_loopback_client_id_is_never_fetched(self):
        client_id = self.web.url("/loop/", host="127.0.0.1")
        self.web.set_json("/loop/", {"client_id": client_id,
                                     "redirect_uris": ["https://loop.example/cb"]})
        f = self.flow(client_id=client_id, redirect_uri=self.web.url("/loop/cb", host="127.0.0.1"))
        self.assertIn("code", f.response)
        # Not fetched, so its redirect_uris are unknown: only its own origin is allowed.
        self.assertErrorPage(Flow(self.server, client_id, "https://loop.example/cb").url)
        self.assertEqual(self.web.hits("/loop/"), [])

    def test_unreachable_client_document_allows_only_its_origin(self):
        client_id = self.web.url("/absent/")  # 404
        f = self.flow(client_id=client_id, redirect_uri=self.web.url("/absent/cb"))
        self.assertIn("code", f.response)
        self.assertErrorPage(Flow(self.server, client_id, "https://absent.example/cb").url)

    def test_consent_names_the_application_and_scopes(self):
        f = Flow(self.server, self.app_id, self.app_other_cb, scope="profile create")
        page = self.browser.session.get(f.url, allow_redirects=False, timeout=30)
        self.assertEqual(page.status_code, 200, hi.exchange(page))
        text = page.text
        self.assertIn("Interop App", text)
        self.assertIn(self.app_id, text)  # the full client_id (§10.1)
        self.assertIn(self.app_other_cb, text)  # the redirect on another host is shown
        self.assertIn("Create new posts", text)
        self.assertIn("See your basic profile", text)  # the guest library's one scope wording table
        self.assertIn(self.profile_url(self.ana), text)  # who the user signs in as
        self.assertIn("frame-ancestors 'none'", page.headers.get("Content-Security-Policy", ""))
        denied = Flow(self.server, self.app_id, self.app_cb).run(self.browser, ANA[0], deny=True)
        self.assertEqual(denied.response.get("error"), "access_denied")
        self.assertEqual(denied.response.get("state"), denied.state)
        self.assertEqual(denied.response.get("iss"), self.server.base)

    def test_consent_form_needs_its_csrf_token(self):
        f = Flow(self.server, self.app_id, self.app_cb)
        page = self.browser.session.get(f.url, allow_redirects=False, timeout=30)
        p = re.search(r'name="p" value="([^"]+)"', page.text).group(1)
        r = self.browser.session.post(self.server.base + "/consent", data={
            "p": p, "csrf": "forged", "decision": "approve"}, allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 400)
        self.assertNotIn("Location", r.headers)
        r = requests.post(self.server.base + "/consent", data={  # another browser
            "p": p, "csrf": re.search(r'name="csrf" value="([^"]+)"', page.text).group(1),
            "decision": "approve"}, allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 400)
        self.assertNotIn("Location", r.headers)

    # ---- tokens -------------------------------------------------------------------------------------

    def test_introspection_needs_authorisation(self):
        t = self.tokens("profile create")
        token = t["access_token"]
        self.assertEqual(self.introspect(token, auth=None).status_code, 401)
        r = requests.post(self.server.base + "/introspect", data={"token": token},
                          headers={"Authorization": "Bearer " + token}, timeout=30)
        self.assertEqual(r.status_code, 401)  # an access token is not a credential here
        self.assertEqual(self.introspect(token, auth=("micropub-rs", "wrong")).status_code, 401)
        r = self.introspect(token)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        body = r.json()
        self.assertIs(body["active"], True)
        self.assertEqual(body["me"], self.profile_url(self.ana))
        self.assertEqual(body["client_id"], self.app_id)
        self.assertEqual(body["scope"], "profile create")
        self.assertGreater(body["exp"], body["iat"])
        r = self.introspect(token, auth=("micropub-rs", self.rs_secret))
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertIs(r.json()["active"], True)
        self.assertEqual(self.introspect("x" * 43).json(), {"active": False})
        self.assertEqual(self.introspect(t["refresh_token"]).json(), {"active": False})

    def test_revoked_token_is_inactive(self):
        t = self.tokens("profile create")
        token = t["access_token"]
        r = requests.post(self.server.base + "/revoke", data={"token": token}, timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(self.introspect(token).json(), {"active": False})
        r = requests.get(self.server.base + "/userinfo",
                         headers={"Authorization": "Bearer " + token}, timeout=30)
        self.assertEqual(r.status_code, 401)
        r = requests.get(self.server.base + "/token",
                         headers={"Authorization": "Bearer " + token}, timeout=30)
        self.assertEqual(r.status_code, 401)
        # Unknown tokens are "revoked" too (RFC 7009 §2.2).
        r = requests.post(self.server.base + "/revoke", data={"token": "unknown"}, timeout=30)
        self.assertEqual(r.status_code, 200)
        # The older form at the token endpoint.
        t = self.tokens("create")
        r = requests.post(self.server.base + "/token",
                          data={"action": "revoke", "token": t["access_token"]}, timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(self.introspect(t["access_token"]).json(), {"active": False})

    def test_userinfo(self):
        t = self.tokens("profile email")
        r = requests.get(self.server.base + "/userinfo",
                         headers={"Authorization": "Bearer " + t["access_token"]}, timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json(), {"name": ANA[1], "url": self.profile_url(self.ana),
                                    "email": ANA[0]})
        t = self.tokens("create")
        r = requests.get(self.server.base + "/userinfo",
                         headers={"Authorization": "Bearer " + t["access_token"]}, timeout=30)
        self.assertEqual(r.status_code, 403, hi.exchange(r))
        self.assertIn("insufficient_scope", r.headers.get("WWW-Authenticate", ""))
        r = requests.get(self.server.base + "/userinfo", timeout=30)
        self.assertEqual(r.status_code, 401)
        self.assertEqual(r.headers.get("WWW-Authenticate"), 'Bearer realm="indieauth"')

    def test_refresh_tokens_rotate(self):
        t = self.tokens("profile create update")

        def refresh(token, **extra):
            data = {"grant_type": "refresh_token", "refresh_token": token,
                    "client_id": self.app_id}
            data.update(extra)
            return requests.post(self.server.base + "/token", data=data, timeout=30)

        r = refresh(t["refresh_token"], scope="create")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        n = r.json()
        self.assertEqual(n["scope"], "create")
        self.assertEqual(n["me"], self.profile_url(self.ana))
        self.assertNotEqual(n["refresh_token"], t["refresh_token"])
        self.assertOAuthError(refresh(t["refresh_token"]), 400, "invalid_grant")  # rotated
        self.assertOAuthError(refresh(n["refresh_token"], scope="delete"), 400, "invalid_scope")
        t2 = self.tokens("create")
        self.assertOAuthError(refresh(t2["refresh_token"], client_id=self.happ_id), 400,
                              "invalid_grant")

    # ---- users' own websites -------------------------------------------------------------------------

    def test_website_that_links_here_becomes_me(self):
        browser = hi.Browser()
        f = self.flow(browser=browser, email=BOB[0], scope="profile")
        r = f.redeem("/auth")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json()["me"], self.web.url("/bob/"))
        self.assertEqual(r.json()["profile"]["url"], self.web.url("/bob/"))
        self.assertTrue(self.web.hits("/bob/"))

    def test_website_without_the_link_is_not_used(self):
        browser = hi.Browser()
        f = Flow(self.server, self.app_id, self.app_cb)
        f.run(browser, CAT[0])
        self.assertEqual(f.redeem("/auth").json()["me"], self.profile_url(self.cat))
        page = browser.session.get(Flow(self.server, self.app_id, self.app_cb).url,
                                   allow_redirects=False, timeout=30)
        self.assertIn("is not used", page.text)
        self.assertIn("indieauth-metadata", page.text)

    def test_website_on_this_server_is_not_used(self):
        browser = hi.Browser()
        f = Flow(self.server, self.app_id, self.app_cb).run(browser, DAN[0])
        self.assertEqual(f.redeem("/auth").json()["me"], self.profile_url(self.dan))
        page = browser.session.get(Flow(self.server, self.app_id, self.app_cb).url,
                                   allow_redirects=False, timeout=30)
        self.assertIn("an address of this server", page.text)


class ExpiredCodeTest(IndieAuthTestBase):
    """Codes are short-lived: code_ttl = 2 seconds here."""

    def test_expired_code_is_refused(self):
        web = Web()
        self.server = IndieHabanero({"code_ttl": "2", "allow_loopback_profiles": "true"})
        try:
            web.set_json("/app/", {"client_id": web.url("/app/"), "client_name": "Expiry"})
            self.server.add_indie_user(*ANA)
            f = Flow(self.server, web.url("/app/"), web.url("/app/cb")).run(hi.Browser(), ANA[0])
            time.sleep(3.5)
            self.assertOAuthError(f.redeem("/auth"), 400, "invalid_grant")
            g = Flow(self.server, web.url("/app/"), web.url("/app/cb")).run(hi.Browser(), ANA[0])
            self.assertEqual(g.redeem("/auth").status_code, 200)  # in time: fine
        finally:
            self.server.stop()
            web.stop()


if __name__ == "__main__":
    unittest.main()
