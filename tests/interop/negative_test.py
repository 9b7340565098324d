"""Negative interop tests (issue 4): what a hostile or broken client gets, over plain HTTP
(requests), against a running Habanero.

code replay (and revocation of its tokens), unregistered redirect_uri, missing PKCE, PKCE
downgrade, expired code, reused refresh token (family revoked), wrong client secret, a token
for another audience, a tampered signature, alg none, introspection of another client's
token (issue 16: {"active": false})."""
import hashlib
import hmac
import json
import time
import unittest

import requests

import habanero_interop as hi

SCOPE = "openid profile email offline_access"
OTHER_REDIRECT_URI = "https://other.example/callback"
CODE_TTL_S = 5  # the short code lifetime of NegativeSettingsTest (default: 60 s)


def introspect(server, token, client_id, secret):
    r = requests.post(server.issuer + "/introspect", data={"token": token},
                      auth=(client_id, secret), timeout=30)
    if r.status_code != 200:
        raise AssertionError("introspection failed\n" + hi.exchange(r))
    return r.json()


def userinfo(server, token):
    return requests.get(server.issuer + "/userinfo",
                        headers={"Authorization": "Bearer " + token}, timeout=30)


class NegativeTest(hi.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = hi.Habanero()
        try:
            cls.server.add_user(hi.USER_EMAIL, hi.USER_PASSWORD, name=hi.USER_NAME)
            cls.secret = cls.server.add_client(
                "neg-rp", redirect_uris=[hi.REDIRECT_URI], scopes=SCOPE,
                grant_types=["authorization_code", "refresh_token", "client_credentials"])
            cls.other_secret = cls.server.add_client(
                "neg-other", redirect_uris=[OTHER_REDIRECT_URI], scopes=SCOPE,
                grant_types=["authorization_code", "refresh_token"])
            cls.server.add_client("neg-public", public=True,
                                  redirect_uris=[hi.LOOPBACK_REDIRECT_URI], scopes=SCOPE,
                                  grant_types=["authorization_code", "refresh_token"])
            cls.browser = hi.Browser()  # one user session for all flows
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    # ---- helpers ----------------------------------------------------------------------------

    def flow(self, client_id="neg-rp", **kw):
        return hi.Flow(self.server, client_id, browser=self.browser, **kw).run()

    def tokens(self, flow, secret=None):
        r = flow.redeem(self.secret if secret is None else secret)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        return r.json()

    def assertOAuthError(self, r, status, error):
        self.assertEqual(r.status_code, status, hi.exchange(r))
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"),
                        hi.exchange(r))
        self.assertEqual(r.json().get("error"), error, hi.exchange(r))

    def refresh(self, refresh_token):
        return hi.token_request(self.server, {"grant_type": "refresh_token",
                                              "refresh_token": refresh_token},
                                "neg-rp", self.secret)

    def assertRejectedBearer(self, token):
        r = userinfo(self.server, token)
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""), hi.exchange(r))
        self.assertIn("invalid_token", r.headers.get("WWW-Authenticate", ""), hi.exchange(r))
        self.assertFalse(introspect(self.server, token, "neg-rp", self.secret).get("active"))

    # ---- tests --------------------------------------------------------------------------------

    def test_code_replay_is_refused_and_revokes_its_tokens(self):
        f = self.flow()
        first = self.tokens(f)
        self.assertEqual(userinfo(self.server, first["access_token"]).status_code, 200)
        again = f.redeem(self.secret)
        self.assertOAuthError(again, 400, "invalid_grant")
        self.assertRejectedBearer(first["access_token"])
        self.assertOAuthError(self.refresh(first["refresh_token"]), 400, "invalid_grant")

    def test_unregistered_redirect_uri_shows_an_error_page(self):
        for client_id, uri in (("neg-rp", "https://evil.example/callback"),
                               ("neg-rp", hi.REDIRECT_URI + "/more"),
                               ("neg-rp", hi.REDIRECT_URI + "?x=1"),
                               ("neg-rp", hi.REDIRECT_URI.replace("callback", "CALLBACK")),
                               ("neg-rp", OTHER_REDIRECT_URI),  # another client's
                               ("neg-public", "http://127.0.0.1:8080/elsewhere"),
                               ("no-such-client", hi.REDIRECT_URI)):
            url, _ = hi.authorization_url(self.server, client_id, uri,
                                          challenge=hi.pkce_pair()[1])
            r = self.browser.session.get(url, allow_redirects=False, timeout=30)
            self.assertEqual(r.status_code, 400, hi.exchange(r))
            self.assertNotIn("Location", r.headers, hi.exchange(r))
            self.assertIn("text/html", r.headers.get("Content-Type", ""), hi.exchange(r))
            self.assertNotIn("evil.example", r.headers.get("Refresh", ""))

    def test_missing_pkce_is_refused(self):
        for client_id, redirect in (("neg-public", hi.LOOPBACK_REDIRECT_URI),
                                    ("neg-rp", hi.REDIRECT_URI)):
            f = self.flow(client_id, redirect_uri=redirect, pkce=False)
            self.assertEqual(f.response.get("error"), "invalid_request", f.callback)
            self.assertEqual(f.response.get("iss"), self.server.issuer, "RFC 9207 iss on errors")
            self.assertEqual(f.response.get("state"), f.params["state"])
        # plain is not S256
        verifier, _ = hi.pkce_pair()
        f = self.flow("neg-public", redirect_uri=hi.LOOPBACK_REDIRECT_URI, pkce=False,
                      code_challenge=verifier, code_challenge_method="plain")
        self.assertEqual(f.response.get("error"), "invalid_request", f.callback)

    def test_pkce_downgrade_and_wrong_verifier_are_refused(self):
        # A code bound to a challenge, redeemed without a verifier.
        f = self.flow()
        self.assertOAuthError(f.redeem(self.secret, verifier=False), 400, "invalid_grant")
        # ... or with another verifier.
        f = self.flow()
        self.assertOAuthError(f.redeem(self.secret, verifier=hi.pkce_pair()[0]), 400,
                              "invalid_grant")
        # A code issued without a challenge must not be redeemed with a verifier. PKCE is on
        # for every client by default, so such a code is not issued at all.
        f = self.flow(pkce=False)
        if "code" in f.response:
            self.assertOAuthError(f.redeem(self.secret, verifier=hi.pkce_pair()[0]), 400,
                                  "invalid_grant")
        else:
            self.assertEqual(f.response.get("error"), "invalid_request", f.callback)

    def test_reused_refresh_token_revokes_the_family(self):
        first = self.tokens(self.flow())
        r = self.refresh(first["refresh_token"])
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        second = r.json()
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        self.assertOAuthError(self.refresh(first["refresh_token"]), 400, "invalid_grant")
        # The reuse revoked the family: the newest refresh token is dead too.
        self.assertOAuthError(self.refresh(second["refresh_token"]), 400, "invalid_grant")
        self.assertFalse(introspect(self.server, second["refresh_token"], "neg-rp",
                                    self.secret).get("active"))

    def test_wrong_client_secret(self):
        data = {"grant_type": "client_credentials"}
        # client_secret_basic: 401 + WWW-Authenticate (RFC 6749 §5.2)
        r = hi.token_request(self.server, data, "neg-rp", self.secret + "x")
        self.assertOAuthError(r, 401, "invalid_client")
        self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Basic"), hi.exchange(r))
        # client_secret_post
        r = hi.token_request(self.server, data, "neg-rp", self.secret + "x", basic=False)
        self.assertIn(r.status_code, (400, 401), hi.exchange(r))
        self.assertEqual(r.json().get("error"), "invalid_client", hi.exchange(r))
        # another client's secret, an unknown client, a public client pretending
        for cid, secret in (("neg-rp", self.other_secret), ("nobody", self.secret),
                            ("neg-public", "guess")):
            r = hi.token_request(self.server, data, cid, secret)
            self.assertOAuthError(r, 401, "invalid_client")
            self.assertTrue(r.headers.get("WWW-Authenticate", "").startswith("Basic"),
                            hi.exchange(r))
        # a code redeemed by another client
        f = self.flow()
        self.assertOAuthError(f.redeem(), 401, "invalid_client")  # no secret at all
        r = hi.token_request(self.server, {"grant_type": "authorization_code", "code": f.code,
                                           "redirect_uri": hi.REDIRECT_URI,
                                           "code_verifier": f.verifier},
                             "neg-other", self.other_secret)
        self.assertOAuthError(r, 400, "invalid_grant")

    def test_token_for_another_audience(self):
        tokens = self.tokens(self.flow())
        id_token = tokens["id_token"]
        claims = json.loads(hi.b64url_decode(id_token.split(".")[1]))
        aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        self.assertEqual(aud, ["neg-rp"])
        # An ID token (audience: the client) is not an access token for this server.
        r = userinfo(self.server, id_token)
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        # Another client's code does not work for this one (audience of the grant).
        f = hi.Flow(self.server, "neg-other", browser=self.browser,
                    redirect_uri=OTHER_REDIRECT_URI).run()
        r = hi.token_request(self.server, {"grant_type": "authorization_code", "code": f.code,
                                           "redirect_uri": OTHER_REDIRECT_URI,
                                           "code_verifier": f.verifier},
                             "neg-rp", self.secret)
        self.assertOAuthError(r, 400, "invalid_grant")
        # Another client's refresh token cannot be used by this one.
        g = hi.Flow(self.server, "neg-other", browser=self.browser,
                    redirect_uri=OTHER_REDIRECT_URI).run()
        other = self.tokens(g, self.other_secret)
        self.assertOAuthError(self.refresh(other["refresh_token"]), 400, "invalid_grant")

    def test_introspection_of_another_clients_token_is_inactive(self):
        # Issue 16: a confidential client learns nothing about another client's access token
        # (it is neither its client nor named by its aud) — not even that it is valid.
        g = hi.Flow(self.server, "neg-other", browser=self.browser,
                    redirect_uri=OTHER_REDIRECT_URI).run()
        other = self.tokens(g, self.other_secret)
        self.assertEqual(introspect(self.server, other["access_token"], "neg-rp", self.secret),
                         {"active": False})
        self.assertEqual(introspect(self.server, other["refresh_token"], "neg-rp", self.secret),
                         {"active": False})
        own = introspect(self.server, other["access_token"], "neg-other", self.other_secret)
        self.assertTrue(own.get("active"), own)
        self.assertEqual(own.get("client_id"), "neg-other")

    def test_tampered_signature_is_refused(self):
        at = self.tokens(self.flow())["access_token"]
        header, payload, sig = at.split(".")
        i = len(sig) // 2
        flipped = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
        self.assertRejectedBearer(".".join((header, payload, flipped)))
        # A changed payload under the original signature.
        claims = json.loads(hi.b64url_decode(payload))
        claims["sub"] = "someone-else"
        forged = hi.b64url(json.dumps(claims, separators=(",", ":")).encode())
        self.assertRejectedBearer(".".join((header, forged, sig)))
        # The genuine token still works (the failures above were the tampering).
        self.assertEqual(userinfo(self.server, at).status_code, 200)

    def test_alg_none_is_refused(self):
        at = self.tokens(self.flow())["access_token"]
        header, payload, _ = at.split(".")
        h = json.loads(hi.b64url_decode(header))
        for alg in ("none", "None", "NONE"):
            h2 = dict(h, alg=alg)
            none = hi.b64url(json.dumps(h2, separators=(",", ":")).encode())
            self.assertRejectedBearer(none + "." + payload + ".")
        # HS256 "signed" with the server's public key (algorithm confusion).
        jwks = requests.get(self.server.discovery()["jwks_uri"], timeout=10).json()
        key = json.dumps(jwks["keys"][0]).encode()
        hs = hi.b64url(json.dumps(dict(h, alg="HS256"), separators=(",", ":")).encode())
        mac = hi.b64url(hmac.new(key, (hs + "." + payload).encode(), hashlib.sha256).digest())
        self.assertRejectedBearer(hs + "." + payload + "." + mac)

    def test_client_added_while_running_takes_effect(self):
        secret = self.server.add_client("neg-late", redirect_uris=[hi.REDIRECT_URI],
                                        scopes=SCOPE,
                                        grant_types=["authorization_code", "client_credentials"])
        deadline = time.time() + 10
        while True:
            r = hi.token_request(self.server, {"grant_type": "client_credentials"},
                                 "neg-late", secret)
            if r.status_code == 200 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(r.status_code, 200, hi.exchange(r))


class NegativeSettingsTest(hi.ServerTestCase):
    """A server with a short code lifetime and PKCE optional for confidential clients
    (oauth2 settings code_ttl and require_pkce), so that expiry and the downgrade of a code
    issued without a challenge can be shown."""

    @classmethod
    def setUpClass(cls):
        cls.server = hi.Habanero(oauth2_settings={"code_ttl": CODE_TTL_S,
                                                  "require_pkce": False})
        try:
            cls.server.add_user(hi.USER_EMAIL, hi.USER_PASSWORD)
            cls.secret = cls.server.add_client(
                "neg-rp", redirect_uris=[hi.REDIRECT_URI], scopes=SCOPE,
                grant_types=["authorization_code", "refresh_token"])
            cls.server.add_client("neg-public", public=True,
                                  redirect_uris=[hi.LOOPBACK_REDIRECT_URI], scopes=SCOPE,
                                  grant_types=["authorization_code"])
            cls.browser = hi.Browser()
            hi.Flow(cls.server, "neg-rp", browser=cls.browser).run()  # log in once
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def flow(self, client_id="neg-rp", **kw):
        return hi.Flow(self.server, client_id, browser=self.browser, **kw).run()

    def test_expired_code_is_refused(self):
        f = self.flow()
        time.sleep(CODE_TTL_S + 1.5)
        r = f.redeem(self.secret)
        self.assertEqual(r.status_code, 400, hi.exchange(r))
        self.assertEqual(r.json().get("error"), "invalid_grant", hi.exchange(r))

    def test_verifier_for_a_code_without_challenge_is_refused(self):
        f = self.flow(pkce=False)
        self.assertIn("code", f.response, f.callback)
        r = f.redeem(self.secret, verifier=hi.pkce_pair()[0])
        self.assertEqual(r.status_code, 400, hi.exchange(r))
        self.assertEqual(r.json().get("error"), "invalid_grant", hi.exchange(r))
        # Without the verifier the same kind of code is fine (PKCE is optional here).
        g = self.flow(pkce=False)
        r = g.redeem(self.secret)
        self.assertEqual(r.status_code, 200, hi.exchange(r))

    def test_public_clients_still_need_pkce(self):
        f = self.flow("neg-public", redirect_uri=hi.LOOPBACK_REDIRECT_URI, pkce=False)
        self.assertEqual(f.response.get("error"), "invalid_request", f.callback)


if __name__ == "__main__":
    unittest.main()
