"""Interop: PyPI authlib (OAuth2Session over requests, authlib.jose + CodeIDToken for the ID
token) against a running Habanero: authorization code + PKCE and refresh, for a confidential
client (client_secret_basic and client_secret_post) and a public one (none)."""
import time
import unittest
import warnings

import requests

import habanero_interop as hi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib.jose announces its move to joserfc
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session, OAuthError
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

SCOPE = "openid profile email offline_access"


class AuthlibTest(hi.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = hi.Habanero()
        try:
            cls.server.add_user(hi.USER_EMAIL, hi.USER_PASSWORD, name=hi.USER_NAME)
            cls.secret = cls.server.add_client(
                "authlib-rp", redirect_uris=[hi.REDIRECT_URI], scopes=SCOPE,
                grant_types=["authorization_code", "refresh_token"], name="Authlib RP")
            cls.server.add_client("authlib-app", public=True,
                                  redirect_uris=[hi.LOOPBACK_REDIRECT_URI], scopes=SCOPE,
                                  grant_types=["authorization_code", "refresh_token"])
            cls.meta = cls.server.discovery()
            cls.jwks = JsonWebKey.import_key_set(requests.get(cls.meta["jwks_uri"], timeout=10).json())
        except BaseException:
            cls.server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def code_flow(self, session, redirect_uri):
        verifier = generate_token(48)
        nonce = generate_token(20)
        uri, state = session.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        browser = hi.Browser()
        callback = browser.authorize(uri, hi.USER_EMAIL, hi.USER_PASSWORD, redirect_uri)
        params = hi.query_of(callback)
        self.assertNotIn("error", params, browser.history())
        self.assertEqual(params.get("state"), state)
        self.assertEqual(params.get("iss"), self.server.issuer, "RFC 9207 iss")
        try:
            token = session.fetch_token(self.meta["token_endpoint"], authorization_response=callback,
                                        code_verifier=verifier, state=state)
        except OAuthError as e:
            self.fail("token request refused: %s %s\n%s" % (e.error, e.description,
                                                            browser.history()))
        self.assertEqual(token["token_type"].lower(), "bearer")
        self.check_id_token(token, session.client_id, nonce)
        return token

    def check_id_token(self, token, client_id, nonce):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims = jwt.decode(
                token["id_token"], self.jwks, claims_cls=CodeIDToken,
                claims_options={"iss": {"essential": True, "value": self.server.issuer}},
                claims_params={"nonce": nonce, "client_id": client_id,
                               "access_token": token["access_token"]})
            claims.validate(now=int(time.time()), leeway=5)  # exp, iat, aud, azp, nonce, at_hash
        self.assertIn("pwd", claims.get("amr", []))
        self.assertIsInstance(claims.get("auth_time"), int)
        return claims

    def refresh_twice(self, session, token):
        first = token["refresh_token"]
        second = session.refresh_token(self.meta["token_endpoint"], refresh_token=first)
        self.assertIn("access_token", second)
        self.assertNotEqual(second["refresh_token"], first, "refresh tokens rotate")
        third = session.refresh_token(self.meta["token_endpoint"],
                                      refresh_token=second["refresh_token"])
        self.assertNotEqual(third["refresh_token"], second["refresh_token"])
        with self.assertRaises(OAuthError) as cm:
            session.refresh_token(self.meta["token_endpoint"], refresh_token=first)
        self.assertEqual(cm.exception.error, "invalid_grant")

    def test_confidential_client_secret_basic(self):
        session = OAuth2Session("authlib-rp", self.secret, scope=SCOPE,
                                redirect_uri=hi.REDIRECT_URI, code_challenge_method="S256",
                                token_endpoint_auth_method="client_secret_basic")
        token = self.code_flow(session, hi.REDIRECT_URI)
        info = session.get(self.meta["userinfo_endpoint"], timeout=10)
        self.assertEqual(info.status_code, 200, hi.exchange(info))
        self.assertEqual(info.json()["email"], hi.USER_EMAIL)
        self.refresh_twice(session, token)

    def test_confidential_client_secret_post(self):
        session = OAuth2Session("authlib-rp", self.secret, scope=SCOPE,
                                redirect_uri=hi.REDIRECT_URI, code_challenge_method="S256",
                                token_endpoint_auth_method="client_secret_post")
        token = self.code_flow(session, hi.REDIRECT_URI)
        self.refresh_twice(session, token)

    def test_public_client_with_loopback_redirect(self):
        redirect = hi.LOOPBACK_REDIRECT_URI.replace("127.0.0.1/", "127.0.0.1:51234/")
        session = OAuth2Session("authlib-app", None, scope=SCOPE, redirect_uri=redirect,
                                code_challenge_method="S256", token_endpoint_auth_method="none")
        token = self.code_flow(session, redirect)
        self.refresh_twice(session, token)


if __name__ == "__main__":
    unittest.main()
