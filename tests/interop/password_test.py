"""The password authenticator (extensions/password) behind the host's login facility, driven
over HTTP as a browser would: the form, escaping, generic failures, rate limits, the session
cookie, CSRF binding, malformed posts."""
import re
import unittest
import urllib.parse

import requests

import habanero_interop as hi

GENERIC = "Email or password is incorrect."
FORM_PATH = "/login/password/"


class Attempt:
    """A pending login attempt: a browser sent to the password form by /authorize."""

    def __init__(self, server, login_hint=None, session=None, **extra):
        self.server = server
        self.session = session or requests.Session()
        url, self.params = hi.authorization_url(server, "pw-rp", challenge=hi.pkce_pair()[1],
                                                login_hint=login_hint, **extra)
        self.page = self.session.get(url, timeout=30)
        split = urllib.parse.urlsplit(self.page.url)
        if split.path.rstrip("/") != FORM_PATH.rstrip("/"):
            raise AssertionError("/authorize did not lead to the password form\n" +
                                 "\n".join(hi.exchange(h) for h in self.page.history) + "\n" +
                                 hi.exchange(self.page))
        self.rt = hi.query_of(self.page.url)["rt"]

    def post(self, email, password, headers=None, **extra):
        data = {"rt": self.rt, "email": email, "password": password}
        data.update(extra)
        data = {k: v for k, v in data.items() if v is not None}
        return self.session.post(self.server.issuer + FORM_PATH, data=data, headers=headers,
                                 allow_redirects=False, timeout=30)


class PasswordTest(hi.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = hi.Habanero(password_settings={"max_failures": 4,
                                                    "max_failures_per_ip": 1000})
        try:
            cls.server.add_client("pw-rp", redirect_uris=[hi.REDIRECT_URI],
                                  scopes="openid email", grant_types=["authorization_code"])
            for email in (hi.USER_EMAIL, "timing@example.com", "locked@example.com",
                          "reset@example.com"):
                cls.server.add_user(email, hi.USER_PASSWORD)
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assertSecurePage(self, r):
        self.assertIn("text/html", r.headers.get("Content-Type", ""), hi.exchange(r))
        csp = r.headers.get("Content-Security-Policy", "")
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(r.headers.get("Referrer-Policy"), "no-referrer")
        self.assertNotIn("<script", r.text.lower())

    def assertForm(self, r, status, message=None):
        self.assertEqual(r.status_code, status, hi.exchange(r))
        self.assertSecurePage(r)
        forms = hi.parse_page(r.text).forms
        self.assertEqual(len(forms), 1, r.text)
        if message:
            self.assertIn(message, r.text)
        return forms[0]

    # ---- the form ---------------------------------------------------------------------------

    def test_form_carries_the_attempt_and_is_accessible(self):
        a = Attempt(self.server)
        form = self.assertForm(a.page, 200)
        self.assertEqual(form["method"], "post")
        self.assertEqual(form["action"], FORM_PATH)
        inputs = {name: (value, t) for name, value, t in form["inputs"]}
        self.assertEqual(inputs["rt"], (a.rt, "hidden"))
        self.assertEqual(inputs["email"][1], "email")
        self.assertEqual(inputs["password"][1], "password")
        for field in ("email", "password"):
            self.assertRegex(a.page.text, r'<label for="%s">' % field)
        self.assertIn('lang="en"', a.page.text)
        self.assertNotIn(GENERIC, a.page.text)

    def test_login_hint_is_prefilled_and_escaped(self):
        a = Attempt(self.server, login_hint=hi.USER_EMAIL)
        inputs = {n: v for n, v, _ in hi.parse_page(a.page.text).forms[0]["inputs"]}
        self.assertEqual(inputs["email"], hi.USER_EMAIL)
        hostile = 'x"><script>alert(1)</script>@example.com'
        a = Attempt(self.server, login_hint=hostile)
        self.assertNotIn("<script>", a.page.text)
        inputs = {n: v for n, v, _ in hi.parse_page(a.page.text).forms[0]["inputs"]}
        self.assertIn(inputs["email"], (hostile, ""))  # prefilled verbatim (escaped) or dropped

    def test_unknown_or_missing_attempt_is_a_400_page(self):
        for query in ("?rt=no-such-attempt", "", "?rt=", "?rt=a&rt=b"):
            r = requests.get(self.server.issuer + FORM_PATH + query, timeout=30)
            self.assertEqual(r.status_code, 400, hi.exchange(r))
            self.assertSecurePage(r)
            self.assertEqual(hi.parse_page(r.text).forms, [])
        r = requests.post(self.server.issuer + FORM_PATH, timeout=30,
                          data={"rt": "no-such-attempt", "email": hi.USER_EMAIL,
                                "password": hi.USER_PASSWORD}, allow_redirects=False)
        self.assertEqual(r.status_code, 400, hi.exchange(r))

    # ---- signing in -------------------------------------------------------------------------

    def test_success_starts_a_rotated_session_and_returns_to_authorize(self):
        a = Attempt(self.server)
        a.session.cookies.set("habanero_session", "planted-by-an-attacker",
                              domain="127.0.0.1", path="/")
        r = a.post(hi.USER_EMAIL, hi.USER_PASSWORD)
        self.assertIn(r.status_code, (302, 303), hi.exchange(r))
        self.assertTrue(r.headers["Location"].startswith("/authorize/resume")
                        or r.headers["Location"].startswith(self.server.issuer +
                                                            "/authorize/resume"),
                        hi.exchange(r))
        cookies = r.raw.headers.getlist("Set-Cookie")
        self.assertTrue(cookies, hi.exchange(r))
        session_cookie = cookies[0]
        self.assertIn("httponly", session_cookie.lower())
        self.assertIn("samesite=lax", session_cookie.lower())
        self.assertIn("path=/", session_cookie.lower())
        self.assertNotIn("secure", session_cookie.lower().replace("samesite", ""))
        value = session_cookie.split(";")[0].split("=", 1)[1]
        self.assertNotEqual(value, "planted-by-an-attacker")
        # The attempt is spent: the same form cannot be posted again.
        again = a.post(hi.USER_EMAIL, hi.USER_PASSWORD)
        self.assertEqual(again.status_code, 400, hi.exchange(again))
        # A second login (prompt=login) rotates the cookie value.
        b = Attempt(self.server, session=a.session, prompt="login")
        r2 = b.post(hi.USER_EMAIL, hi.USER_PASSWORD)
        self.assertIn(r2.status_code, (302, 303), hi.exchange(r2))
        value2 = r2.raw.headers.getlist("Set-Cookie")[0].split(";")[0].split("=", 1)[1]
        self.assertNotEqual(value2, value)

    def test_wrong_password_and_unknown_user_look_the_same(self):
        # Same status and body. Equal work (one Argon2id verification either way) is
        # asserted by counting in tests/unit/auth/users_test.cc, not by timing here: a
        # wall-clock comparison is flaky on a loaded machine (it failed once under ASan).
        def attempt(email):
            a = Attempt(self.server)
            r = a.post(email, "wrong password")
            body = r.text.replace(a.rt, "RT").replace(email, "EMAIL")
            return r.status_code, body

        known = [attempt("timing@example.com") for _ in range(3)]
        unknown = [attempt("nobody-%d@example.com" % i) for i in range(3)]
        self.assertEqual({s for s, _ in known + unknown}, {200})
        self.assertEqual(len({b for _, b in known + unknown}), 1, "bodies differ")
        self.assertIn(GENERIC, known[0][1])

    def test_failures_per_email_are_rate_limited(self):
        for i in range(4):
            r = Attempt(self.server).post("locked@example.com", "guess %d" % i)
            self.assertForm(r, 200, GENERIC)
        for password in ("guess again", hi.USER_PASSWORD):  # even the right one, now
            r = Attempt(self.server).post("locked@example.com", password)
            self.assertForm(r, 429, GENERIC)
            self.assertGreater(int(r.headers.get("Retry-After", "0")), 0)
        # The same email in other letter cases counts as the same account.
        r = Attempt(self.server).post("LOCKED@example.com", "guess")
        self.assertEqual(r.status_code, 429)
        # Other accounts are not affected.
        r = Attempt(self.server).post(hi.USER_EMAIL, hi.USER_PASSWORD)
        self.assertIn(r.status_code, (302, 303), hi.exchange(r))

    def test_success_clears_the_email_counter(self):
        for i in range(3):
            self.assertEqual(Attempt(self.server).post("reset@example.com", "x%d" % i).status_code,
                             200)
        r = Attempt(self.server).post("reset@example.com", hi.USER_PASSWORD)
        self.assertIn(r.status_code, (302, 303), hi.exchange(r))
        for i in range(3):
            self.assertEqual(Attempt(self.server).post("reset@example.com", "y%d" % i).status_code,
                             200)

    # ---- hostile posts ----------------------------------------------------------------------

    def test_cross_site_post_is_refused(self):
        a = Attempt(self.server)
        r = a.post(hi.USER_EMAIL, hi.USER_PASSWORD, headers={"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(r.status_code, 403, hi.exchange(r))
        self.assertNotIn("Set-Cookie", r.headers)
        ok = a.post(hi.USER_EMAIL, hi.USER_PASSWORD, headers={"Sec-Fetch-Site": "same-origin"})
        self.assertIn(ok.status_code, (302, 303), hi.exchange(ok))

    def test_malformed_posts_get_4xx_never_5xx(self):
        a = Attempt(self.server)
        self.assertForm(a.post(hi.USER_EMAIL, None), 400)
        self.assertForm(a.post(None, "pw"), 400)
        self.assertForm(a.post("", ""), 400)
        url = self.server.issuer + FORM_PATH
        r = a.session.post(url, data=[("rt", a.rt), ("email", hi.USER_EMAIL),
                                      ("password", "a"), ("password", "b")],
                           allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 400, hi.exchange(r))
        r = a.session.post(url, json={"rt": a.rt, "email": hi.USER_EMAIL,
                                      "password": hi.USER_PASSWORD},
                           allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 400, hi.exchange(r))
        r = a.session.post(url, data=b"rt=%ff%fe&email=x&password=y", allow_redirects=False,
                           headers={"Content-Type": "application/x-www-form-urlencoded"},
                           timeout=30)
        self.assertEqual(r.status_code, 400, hi.exchange(r))
        r = a.post("a" * 5000 + "@example.com", "p" * 100000)
        self.assertForm(r, 200, GENERIC)
        self.assertNotIn("a" * 5000, r.text)
        r = a.session.put(url, data={"rt": a.rt}, allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 405, hi.exchange(r))
        # After all that the attempt still works.
        ok = a.post(hi.USER_EMAIL, hi.USER_PASSWORD)
        self.assertIn(ok.status_code, (302, 303), hi.exchange(ok))


class PasswordPerAddressLimitTest(hi.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = hi.Habanero(password_settings={"max_failures": 100,
                                                    "max_failures_per_ip": 3})
        try:
            cls.server.add_client("pw-rp", redirect_uris=[hi.REDIRECT_URI],
                                  scopes="openid email", grant_types=["authorization_code"])
            cls.server.add_user(hi.USER_EMAIL, hi.USER_PASSWORD)
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_failures_per_address_are_rate_limited(self):
        for i in range(3):
            r = Attempt(self.server).post("spray-%d@example.com" % i, "guess")
            self.assertEqual(r.status_code, 200, hi.exchange(r))
        r = Attempt(self.server).post("spray-9@example.com", "guess")
        self.assertEqual(r.status_code, 429, hi.exchange(r))
        self.assertIn(GENERIC, r.text)
        r = Attempt(self.server).post(hi.USER_EMAIL, hi.USER_PASSWORD)
        self.assertEqual(r.status_code, 429, hi.exchange(r))


if __name__ == "__main__":
    unittest.main()
