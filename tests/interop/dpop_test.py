"""DPoP (RFC 9449) and Solid-OIDC tests over plain HTTP (requests), against a running Habanero.

Proofs are built here with `cryptography` (ES256, EdDSA, RS256 keys), so every rule of the
proof check can be broken on purpose: typ, alg (none, HS256), a missing or private jwk, the
signature, htm, htu (path, query, host), iat (too old, in the future), jti replay, the server
nonce, ath, and the key binding of access tokens (cnf.jkt at userinfo and introspection),
of public clients' refresh tokens (§5) and of codes (dpop_jkt, §10).

Solid-OIDC: the webid claim of a local user and the Turtle profile Habanero hosts for them;
an external WebID, accepted only when its profile (served here by a small HTTP server on
loopback: the server runs with [outbound] allow_loopback = true) names this issuer; and
Client Identifier Documents (client_id = URL of a JSON document served here): happy path,
a document whose client_id differs, an unregistered redirect_uri.
"""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import secrets
import threading
import time
import unittest
import urllib.parse

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import habanero_interop as hi

SCOPE = "openid profile email offline_access webid"
SOLID_OIDC_ISSUER = "http://www.w3.org/ns/solid/terms#oidcIssuer"


# ---- keys and proofs ---------------------------------------------------------------------------

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def int_bytes(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


class Key:
    """A DPoP key pair: alg ES256, EdDSA or RS256."""

    def __init__(self, alg="ES256"):
        self.alg = alg
        if alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            nums = self.private.public_key().public_numbers()
            self.jwk = {"kty": "EC", "crv": "P-256", "x": b64(int_bytes(nums.x, 32)),
                        "y": b64(int_bytes(nums.y, 32))}
            self.private_jwk = dict(self.jwk, d=b64(int_bytes(
                self.private.private_numbers().private_value, 32)))
        elif alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw,
                                                         serialization.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
            d = self.private.private_bytes(serialization.Encoding.Raw,
                                           serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption())
            self.private_jwk = dict(self.jwk, d=b64(d))
        elif alg in ("RS256", "PS256"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            nums = self.private.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "n": b64(int_bytes(nums.n)), "e": b64(int_bytes(nums.e))}
            self.private_jwk = dict(self.jwk, d=b64(int_bytes(
                self.private.private_numbers().d)))
        else:
            raise ValueError(alg)

    def sign(self, data):
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return int_bytes(r, 32) + int_bytes(s, 32)
        if self.alg == "EdDSA":
            return self.private.sign(data)
        if self.alg == "PS256":  # RFC 7518 §3.5: salt as long as the hash
            return self.private.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                                       salt_length=32), hashes.SHA256())
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def thumbprint(self):
        required = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"),
                    "RSA": ("e", "kty", "n")}[self.jwk["kty"]]
        canonical = compact({k: self.jwk[k] for k in required})
        return b64(hashlib.sha256(canonical).digest())

    def proof(self, htm, htu, access_token=None, nonce=None, iat=None, jti=None,
              header=None, claims=None, sign_with=None, drop=()):
        """A DPoP proof JWT. `header`/`claims` override members; names in `drop` are removed."""
        h = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk}
        c = {"jti": jti or secrets.token_urlsafe(16), "htm": htm, "htu": htu,
             "iat": int(time.time()) if iat is None else iat}
        if access_token is not None:
            c["ath"] = b64(hashlib.sha256(access_token.encode()).digest())
        if nonce is not None:
            c["nonce"] = nonce
        h.update(header or {})
        c.update(claims or {})
        for name in drop:
            h.pop(name, None)
            c.pop(name, None)
        signing_input = b64(compact(h)) + "." + b64(compact(c))
        signature = (sign_with or self).sign(signing_input.encode())
        return signing_input + "." + b64(signature)


def jwt_claims(token):
    return json.loads(hi.b64url_decode(token.split(".")[1]))


# ---- a small web server for WebID profiles and client identifier documents ------------------

class DocumentServer:
    """Serves fixed documents on 127.0.0.1: docs[path] = (content_type, body)."""

    def __init__(self):
        self.docs = {}
        self.hits = []
        docs, hits = self.docs, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                doc = docs.get(self.path)
                if doc is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = doc[1].encode()
                self.send_response(200)
                self.send_header("Content-Type", doc[0])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class LoopbackHabanero(hi.Habanero):
    """A Habanero whose outbound fetch may reach loopback (development switch)."""

    def _write_config(self):
        super()._write_config()
        with open(self.config, "a") as f:
            f.write("[outbound]\nallow_loopback = true\n")


# ---- the tests ----------------------------------------------------------------------------------

class DpopBase(hi.ServerTestCase):
    settings = {}

    @classmethod
    def setUpClass(cls):
        cls.docs = DocumentServer()
        cls.server = LoopbackHabanero(oauth2_settings=cls.settings)
        try:
            cls.server.add_user(hi.USER_EMAIL, hi.USER_PASSWORD, name=hi.USER_NAME)
            cls.secret = cls.server.add_client(
                "dpop-rp", redirect_uris=[hi.REDIRECT_URI], scopes=SCOPE,
                grant_types=["authorization_code", "refresh_token", "client_credentials"])
            cls.server.add_client("dpop-public", public=True,
                                  redirect_uris=[hi.LOOPBACK_REDIRECT_URI], scopes=SCOPE,
                                  grant_types=["authorization_code", "refresh_token"])
            cls.browser = hi.Browser()
        except BaseException:
            cls.server.stop()
            cls.docs.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.docs.stop()

    @property
    def token_url(self):
        return self.server.issuer + "/token"

    @property
    def userinfo_url(self):
        return self.server.issuer + "/userinfo"

    def post_token(self, data, dpop=None, client_id="dpop-rp", secret=None):
        headers = {"DPoP": dpop} if dpop else {}
        data = dict(data)
        auth = None
        if secret is not None:
            auth = (client_id, secret)
        else:
            data["client_id"] = client_id
        return requests.post(self.token_url, data=data, auth=auth, headers=headers, timeout=30)

    def client_credentials(self, dpop=None, scope=""):
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        return self.post_token(data, dpop, "dpop-rp", self.secret)

    def public_flow(self, key=None, scope=SCOPE, **extra):
        """An authorization code flow of the public client; returns (flow, token response)."""
        f = hi.Flow(self.server, "dpop-public", browser=self.browser,
                    redirect_uri=hi.LOOPBACK_REDIRECT_URI, scope=scope, **extra).run()
        data = {"grant_type": "authorization_code", "code": f.code,
                "redirect_uri": hi.LOOPBACK_REDIRECT_URI, "code_verifier": f.verifier}
        proof = key.proof("POST", self.token_url) if key else None
        return f, self.post_token(data, proof, "dpop-public")

    def userinfo(self, token, key=None, scheme="DPoP", proof=None, **proof_args):
        headers = {"Authorization": "%s %s" % (scheme, token)}
        if proof is None and key is not None:
            proof = key.proof("GET", self.userinfo_url, access_token=token, **proof_args)
        if proof is not None:
            headers["DPoP"] = proof
        return requests.get(self.userinfo_url, headers=headers, timeout=30)

    def introspect(self, token):
        r = requests.post(self.server.issuer + "/introspect", data={"token": token},
                          auth=("dpop-rp", self.secret), timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        return r.json()

    def assertOAuthError(self, r, status, error):
        self.assertEqual(r.status_code, status, hi.exchange(r))
        self.assertEqual(r.json().get("error"), error, hi.exchange(r))

    def assertInvalidProof(self, proof, description_part=None):
        r = self.client_credentials(proof)
        self.assertOAuthError(r, 400, "invalid_dpop_proof")
        if description_part:
            self.assertIn(description_part, r.json().get("error_description", ""), hi.exchange(r))
        return r

    def assertDpopChallenge(self, r, error):
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        challenge = r.headers.get("WWW-Authenticate", "")
        self.assertIn("DPoP", challenge, hi.exchange(r))
        self.assertIn('error="%s"' % error, challenge, hi.exchange(r))


class DpopTest(DpopBase):
    # ---- discovery and the happy paths ----------------------------------------------------

    def test_discovery_advertises_dpop_and_webid(self):
        doc = self.server.discovery()
        self.assertEqual(set(doc["dpop_signing_alg_values_supported"]),
                         {"ES256", "EdDSA", "RS256", "PS256"})
        self.assertIn("webid", doc["scopes_supported"])
        self.assertIn("webid", doc["claims_supported"])
        self.assertNotIn("none", doc["dpop_signing_alg_values_supported"])

    def test_client_credentials_with_dpop_for_each_alg(self):
        for alg in ("ES256", "EdDSA", "RS256", "PS256"):
            key = Key(alg)
            r = self.client_credentials(key.proof("POST", self.token_url))
            self.assertEqual(r.status_code, 200, hi.exchange(r))
            body = r.json()
            self.assertEqual(body["token_type"], "DPoP", alg)
            claims = jwt_claims(body["access_token"])
            self.assertEqual(claims["cnf"], {"jkt": key.thumbprint()}, alg)
            info = self.introspect(body["access_token"])
            self.assertTrue(info["active"])
            self.assertEqual(info["token_type"], "DPoP")
            self.assertEqual(info["cnf"]["jkt"], key.thumbprint())
        # Without a proof: a Bearer token, as before.
        r = self.client_credentials()
        self.assertEqual(r.json()["token_type"], "Bearer", hi.exchange(r))
        self.assertNotIn("cnf", jwt_claims(r.json()["access_token"]))
        self.assertEqual(self.introspect(r.json()["access_token"])["token_type"], "Bearer")

    def test_authorization_code_with_dpop_and_userinfo(self):
        key = Key()
        _, r = self.public_flow(key)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        tokens = r.json()
        self.assertEqual(tokens["token_type"], "DPoP")
        at = tokens["access_token"]
        self.assertEqual(jwt_claims(at)["cnf"]["jkt"], key.thumbprint())
        r = self.userinfo(at, key)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json()["email"], hi.USER_EMAIL)

    # ---- the proof itself ------------------------------------------------------------------

    def test_wrong_typ(self):
        key = Key()
        for typ in ("JWT", "at+jwt", "dpop", "jwt+dpop"):
            self.assertInvalidProof(key.proof("POST", self.token_url, header={"typ": typ}), "typ")
        self.assertInvalidProof(key.proof("POST", self.token_url, drop=("typ",)), "typ")

    def test_alg_none_and_hs256(self):
        key = Key()
        h = {"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}
        c = {"jti": secrets.token_urlsafe(8), "htm": "POST", "htu": self.token_url,
             "iat": int(time.time())}
        none = b64(compact(h)) + "." + b64(compact(c)) + "."
        r = self.client_credentials(none)
        self.assertOAuthError(r, 400, "invalid_dpop_proof")
        # HS256 with the public key as the MAC key (algorithm confusion).
        h["alg"] = "HS256"
        signing_input = b64(compact(h)) + "." + b64(compact(c))
        for mac_key in (compact(key.jwk), hi.b64url_decode(key.jwk["x"])):
            mac = hmac.new(mac_key, signing_input.encode(), hashlib.sha256).digest()
            self.assertInvalidProof(signing_input + "." + b64(mac), "alg")
        # An alg that does not fit the key.
        self.assertInvalidProof(key.proof("POST", self.token_url, header={"alg": "RS256"}))

    def test_missing_or_private_jwk(self):
        key = Key()
        self.assertInvalidProof(key.proof("POST", self.token_url, drop=("jwk",)), "jwk")
        self.assertInvalidProof(key.proof("POST", self.token_url, header={"jwk": "x"}), "jwk")
        self.assertInvalidProof(
            key.proof("POST", self.token_url, header={"jwk": key.private_jwk}), "private")
        ed = Key("EdDSA")
        self.assertInvalidProof(
            ed.proof("POST", self.token_url, header={"jwk": ed.private_jwk}), "private")

    def test_bad_signature(self):
        key, other = Key(), Key()
        # Signed by another key than the one in the header.
        self.assertInvalidProof(key.proof("POST", self.token_url, sign_with=other), "signature")
        # A valid proof with its claims changed afterwards.
        proof = key.proof("POST", self.token_url)
        h, c, s = proof.split(".")
        claims = json.loads(hi.b64url_decode(c))
        claims["jti"] = "changed"
        self.assertInvalidProof(h + "." + b64(compact(claims)) + "." + s, "signature")
        # Garbage that merely looks like a JWS.
        self.assertInvalidProof("a.b.c")
        self.assertInvalidProof("not a jws")

    def test_two_dpop_headers(self):
        key = Key()
        conn = http.client.HTTPConnection(urllib.parse.urlsplit(self.server.issuer).netloc,
                                          timeout=30)
        body = urllib.parse.urlencode({"grant_type": "client_credentials"})
        basic = base64.b64encode(("dpop-rp:" + self.secret).encode()).decode()
        conn.putrequest("POST", "/token")
        conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.putheader("Authorization", "Basic " + basic)
        conn.putheader("DPoP", key.proof("POST", self.token_url))
        conn.putheader("DPoP", key.proof("POST", self.token_url))
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body.encode())
        r = conn.getresponse()
        text = r.read().decode()
        conn.close()
        self.assertEqual(r.status, 400, text)
        self.assertEqual(json.loads(text)["error"], "invalid_dpop_proof", text)

    def test_htm_mismatch(self):
        key = Key()
        for htm in ("GET", "post", "PUT"):
            self.assertInvalidProof(key.proof(htm, self.token_url), "htm")
        self.assertInvalidProof(key.proof("POST", self.token_url, drop=("htm",)), "htm")

    def test_htu_mismatch(self):
        key = Key()
        issuer = self.server.issuer
        port = urllib.parse.urlsplit(issuer).port
        for htu in (issuer + "/userinfo", issuer + "/token/", issuer + "/token?x=1",
                    issuer + "/token#f", "https://127.0.0.1:%d/token" % port,
                    "http://localhost:%d/token" % port, "http://evil.example/token",
                    "/token", ""):
            self.assertInvalidProof(key.proof("POST", htu), "htu")
        # The URL comes from the configured issuer, never from the Host header.
        r = requests.post(self.token_url, data={"grant_type": "client_credentials"},
                          auth=("dpop-rp", self.secret),
                          headers={"Host": "evil.example",
                                   "DPoP": key.proof("POST", "http://evil.example/token")},
                          timeout=30)
        self.assertOAuthError(r, 400, "invalid_dpop_proof")
        # RFC 3986 normalisation: scheme and host case, default port.
        r = self.client_credentials(key.proof("POST", issuer.replace("http://", "HTTP://")
                                              + "/token"))
        self.assertEqual(r.status_code, 200, hi.exchange(r))

    def test_iat_window(self):
        key = Key()
        now = int(time.time())
        self.assertInvalidProof(key.proof("POST", self.token_url, iat=now - 600), "old")
        self.assertInvalidProof(key.proof("POST", self.token_url, iat=now + 300), "future")
        self.assertInvalidProof(key.proof("POST", self.token_url, drop=("iat",)), "iat")
        self.assertInvalidProof(key.proof("POST", self.token_url, iat=str(now)), "iat")
        # Within the window (a little skew either way) is fine.
        for iat in (now - 120, now + 30):
            r = self.client_credentials(key.proof("POST", self.token_url, iat=iat))
            self.assertEqual(r.status_code, 200, hi.exchange(r))

    def test_jti_replay(self):
        key = Key()
        proof = key.proof("POST", self.token_url)
        r = self.client_credentials(proof)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertInvalidProof(proof, "replay")
        # The same jti with a new proof (new iat, same key) is a replay too.
        jti = secrets.token_urlsafe(8)
        self.assertEqual(self.client_credentials(
            key.proof("POST", self.token_url, jti=jti)).status_code, 200)
        self.assertInvalidProof(key.proof("POST", self.token_url, jti=jti, iat=int(time.time()) - 1),
                                "replay")
        self.assertInvalidProof(key.proof("POST", self.token_url, drop=("jti",)), "jti")

    # ---- bound tokens at the resource -------------------------------------------------------

    def test_dpop_bound_token_as_bearer_is_refused(self):
        key = Key()
        at = self.public_flow(key)[1].json()["access_token"]
        r = self.userinfo(at, scheme="Bearer")
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        self.assertIn("invalid_token", r.headers.get("WWW-Authenticate", ""), hi.exchange(r))
        # ... also with a valid proof alongside, and in the form body.
        r = self.userinfo(at, key, scheme="Bearer")
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        r = requests.post(self.userinfo_url, data={"access_token": at}, timeout=30)
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        # A Bearer token presented with the DPoP scheme is refused as well.
        bearer_at = self.public_flow(None)[1].json()["access_token"]
        r = self.userinfo(bearer_at, key)
        self.assertEqual(r.status_code, 401, hi.exchange(r))
        self.assertEqual(self.userinfo(bearer_at, scheme="Bearer").status_code, 200)

    def test_userinfo_proof_checks(self):
        key = Key()
        at = self.public_flow(key)[1].json()["access_token"]
        # No proof at all.
        self.assertDpopChallenge(self.userinfo(at), "invalid_dpop_proof")
        # ath of another token, or none.
        self.assertDpopChallenge(self.userinfo(at, key, claims={"ath": b64(b"x" * 32)}),
                                 "invalid_dpop_proof")
        self.assertDpopChallenge(self.userinfo(at, proof=key.proof("GET", self.userinfo_url)),
                                 "invalid_dpop_proof")
        # A proof by another key (valid in itself).
        self.assertDpopChallenge(self.userinfo(at, Key()), "invalid_dpop_proof")
        # htm/htu of the token endpoint.
        self.assertDpopChallenge(
            self.userinfo(at, proof=key.proof("POST", self.token_url, access_token=at)),
            "invalid_dpop_proof")
        # The right proof works, once.
        proof = key.proof("GET", self.userinfo_url, access_token=at)
        self.assertEqual(self.userinfo(at, proof=proof).status_code, 200)
        self.assertDpopChallenge(self.userinfo(at, proof=proof), "invalid_dpop_proof")

    # ---- bound refresh tokens and codes ----------------------------------------------------

    def test_public_client_refresh_token_is_bound(self):
        key = Key()
        tokens = self.public_flow(key)[1].json()
        rt = tokens["refresh_token"]
        data = {"grant_type": "refresh_token", "refresh_token": rt}
        # Without a proof, or with another key: refused, and the token stays usable.
        self.assertOAuthError(self.post_token(data, None, "dpop-public"), 400, "invalid_grant")
        self.assertOAuthError(self.post_token(data, Key().proof("POST", self.token_url),
                                              "dpop-public"), 400, "invalid_grant")
        self.assertOAuthError(self.post_token(data, Key("EdDSA").proof("POST", self.token_url),
                                              "dpop-public"), 400, "invalid_grant")
        r = self.post_token(data, key.proof("POST", self.token_url), "dpop-public")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json()["token_type"], "DPoP")
        self.assertEqual(jwt_claims(r.json()["access_token"])["cnf"]["jkt"], key.thumbprint())
        # The rotated token is bound to the same key.
        data["refresh_token"] = r.json()["refresh_token"]
        self.assertOAuthError(self.post_token(data, Key().proof("POST", self.token_url),
                                              "dpop-public"), 400, "invalid_grant")
        self.assertEqual(self.post_token(data, key.proof("POST", self.token_url),
                                         "dpop-public").status_code, 200)

    def test_dpop_jkt_binds_the_code(self):
        key = Key()
        f, r = self.public_flow(Key(), dpop_jkt=key.thumbprint())
        self.assertOAuthError(r, 400, "invalid_grant")
        f, r = self.public_flow(None, dpop_jkt=key.thumbprint())
        self.assertOAuthError(r, 400, "invalid_grant")
        f, r = self.public_flow(key, dpop_jkt=key.thumbprint())
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json()["token_type"], "DPoP")
        # A malformed dpop_jkt is an authorization error at the redirect URI.
        f = hi.Flow(self.server, "dpop-public", browser=self.browser,
                    redirect_uri=hi.LOOPBACK_REDIRECT_URI, scope=SCOPE,
                    dpop_jkt="not-a-thumbprint").run()
        self.assertEqual(f.response.get("error"), "invalid_request", f.callback)

    # ---- WebID --------------------------------------------------------------------------------

    def test_webid_claim_and_profile_of_a_local_user(self):
        _, r = self.public_flow(Key())
        tokens = r.json()
        self.assertIn("webid", tokens["scope"].split())
        id_claims = jwt_claims(tokens["id_token"])
        expected = self.server.issuer + "/webid/" + urllib.parse.quote(id_claims["sub"], safe="") + "#me"
        self.assertEqual(id_claims["webid"], expected)
        at = jwt_claims(tokens["access_token"])
        self.assertEqual(at["webid"], expected)
        self.assertIn("solid", at["aud"])
        self.assertIn("dpop-public", at["aud"])
        self.assertEqual(at["client_id"], "dpop-public")
        self.assertEqual(at["iss"], self.server.issuer)
        header = json.loads(hi.b64url_decode(tokens["access_token"].split(".")[0]))
        self.assertEqual(header["alg"], "ES256")
        # The profile document.
        r = requests.get(expected.split("#")[0], headers={"Accept": "text/turtle"}, timeout=30)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertTrue(r.headers["Content-Type"].startswith("text/turtle"), hi.exchange(r))
        self.assertIn("solid:oidcIssuer <%s>" % self.server.issuer, r.text)
        self.assertIn("<#me>", r.text)
        self.assertIn('rel="%s"' % SOLID_OIDC_ISSUER, r.headers.get("Link", ""))
        self.assertIn("<%s>" % self.server.issuer, r.headers.get("Link", ""))
        # Nobody else has one.
        r = requests.get(self.server.issuer + "/webid/no-such-user", timeout=30)
        self.assertEqual(r.status_code, 404, hi.exchange(r))
        # Without the webid scope there is no webid.
        _, r = self.public_flow(Key(), scope="openid email")
        self.assertNotIn("webid", jwt_claims(r.json()["id_token"]))
        self.assertNotIn("webid", jwt_claims(r.json()["access_token"]))

    def external_user(self, email, issuer):
        """A user whose WebID lives on the document server, naming `issuer`."""
        path = "/profiles/%s" % secrets.token_hex(4)
        webid = self.docs.base + path + "#me"
        self.docs.docs[path] = ("text/turtle", (
            "@prefix solid: <http://www.w3.org/ns/solid/terms#>.\n"
            "@prefix foaf: <http://xmlns.com/foaf/0.1/>.\n"
            "<> foaf:primaryTopic <#me>.\n"
            "<#me> a foaf:Person; solid:oidcIssuer <%s>.\n") % issuer)
        self.server.cli("user", "add", "--email", email, "--password-stdin", "--webid", webid,
                        input=hi.USER_PASSWORD + "\n")
        return webid

    def external_flow(self, email):
        f = hi.Flow(self.server, "dpop-public", redirect_uri=hi.LOOPBACK_REDIRECT_URI,
                    scope=SCOPE).run(email=email)
        data = {"grant_type": "authorization_code", "code": f.code,
                "redirect_uri": hi.LOOPBACK_REDIRECT_URI, "code_verifier": f.verifier}
        r = self.post_token(data, Key().proof("POST", self.token_url), "dpop-public")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        return r.json()

    def test_external_webid_needs_this_issuer_in_its_profile(self):
        good = self.external_user("bob@example.com", self.server.issuer)
        tokens = self.external_flow("bob@example.com")
        self.assertEqual(jwt_claims(tokens["id_token"]).get("webid"), good)
        self.assertEqual(jwt_claims(tokens["access_token"]).get("webid"), good)
        self.assertIn("webid", tokens["scope"].split())
        # The user's hosted profile is not offered for an external WebID.
        sub = jwt_claims(tokens["id_token"])["sub"]
        r = requests.get(self.server.issuer + "/webid/" + urllib.parse.quote(sub, safe=""),
                         timeout=30)
        self.assertEqual(r.status_code, 404, hi.exchange(r))

        self.external_user("carol@example.com", "https://other-issuer.example")
        tokens = self.external_flow("carol@example.com")
        self.assertNotIn("webid", jwt_claims(tokens["id_token"]))
        self.assertNotIn("webid", jwt_claims(tokens["access_token"]))
        self.assertNotIn("webid", tokens["scope"].split())
        self.assertIn("not accepted", self.server.log())  # the reason is logged

        # A WebID whose profile does not exist.
        self.server.cli("user", "add", "--email", "dave@example.com", "--password-stdin",
                        "--webid", self.docs.base + "/missing#me", input=hi.USER_PASSWORD + "\n")
        tokens = self.external_flow("dave@example.com")
        self.assertNotIn("webid", jwt_claims(tokens["id_token"]))

    # ---- Client Identifier Documents ----------------------------------------------------------

    def client_document(self, name="Document App", redirect=hi.LOOPBACK_REDIRECT_URI, **override):
        path = "/apps/%s.jsonld" % secrets.token_hex(4)
        url = self.docs.base + path
        doc = {"@context": ["https://www.w3.org/ns/solid/oidc-context.jsonld"],
               "client_id": url, "client_name": name, "redirect_uris": [redirect],
               "grant_types": ["authorization_code", "refresh_token"],
               "scope": "openid webid offline_access", "token_endpoint_auth_method": "none"}
        doc.update(override)
        self.docs.docs[path] = ("application/ld+json", json.dumps(doc))
        return url

    def test_client_identifier_document(self):
        url = self.client_document(name="Solid Notes (test)")
        browser = hi.Browser()
        f = hi.Flow(self.server, url, browser=browser, redirect_uri=hi.LOOPBACK_REDIRECT_URI,
                    scope="openid webid offline_access").run()
        # The consent page names the application by its client_name.
        u, _ = hi.authorization_url(self.server, url, hi.LOOPBACK_REDIRECT_URI,
                                    scope="openid webid", challenge=hi.pkce_pair()[1],
                                    prompt="consent")
        page = browser.session.get(u, allow_redirects=False, timeout=30)
        self.assertEqual(page.status_code, 200, hi.exchange(page))
        self.assertIn("Solid Notes (test)", page.text)
        key = Key()
        r = self.post_token({"grant_type": "authorization_code", "code": f.code,
                             "redirect_uri": hi.LOOPBACK_REDIRECT_URI,
                             "code_verifier": f.verifier},
                            key.proof("POST", self.token_url), url)
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        at = jwt_claims(r.json()["access_token"])
        self.assertEqual(at["client_id"], url)
        self.assertIn(url, at["aud"])
        self.assertIn("webid", at)
        # A public client: a secret does not authenticate it.
        r = hi.token_request(self.server, {"grant_type": "client_credentials"}, url, "guess")
        self.assertOAuthError(r, 401, "invalid_client")

    def test_client_document_with_another_client_id_is_refused(self):
        url = self.client_document(client_id="https://someone-else.example/app")
        u, _ = hi.authorization_url(self.server, url, hi.LOOPBACK_REDIRECT_URI,
                                    challenge=hi.pkce_pair()[1])
        r = requests.get(u, allow_redirects=False, timeout=30)
        self.assertEqual(r.status_code, 400, hi.exchange(r))
        self.assertNotIn("Location", r.headers)

    def test_client_document_redirect_uris_are_enforced(self):
        url = self.client_document(redirect="http://127.0.0.1/registered")
        for redirect in ("http://127.0.0.1/other", "https://evil.example/cb",
                         "http://127.0.0.1/registered/more"):
            u, _ = hi.authorization_url(self.server, url, redirect, challenge=hi.pkce_pair()[1])
            r = requests.get(u, allow_redirects=False, timeout=30)
            self.assertEqual(r.status_code, 400, hi.exchange(r))
            self.assertNotIn("Location", r.headers)
        # A document that asks for client authentication is not usable (no secret exists).
        url = self.client_document(token_endpoint_auth_method="client_secret_basic")
        u, _ = hi.authorization_url(self.server, url, hi.LOOPBACK_REDIRECT_URI,
                                    challenge=hi.pkce_pair()[1])
        self.assertEqual(requests.get(u, allow_redirects=False, timeout=30).status_code, 400)
        # A URL that serves nothing.
        u, _ = hi.authorization_url(self.server, self.docs.base + "/nothing-here",
                                    hi.LOOPBACK_REDIRECT_URI, challenge=hi.pkce_pair()[1])
        self.assertEqual(requests.get(u, allow_redirects=False, timeout=30).status_code, 400)


class DpopNonceTest(DpopBase):
    """dpop_nonce = "required": proofs must carry a nonce the server handed out."""

    settings = {"dpop_nonce": "required"}

    def test_token_endpoint_nonce_flow(self):
        key = Key()
        r = self.client_credentials(key.proof("POST", self.token_url))
        self.assertOAuthError(r, 400, "use_dpop_nonce")
        nonce = r.headers.get("DPoP-Nonce")
        self.assertTrue(nonce, hi.exchange(r))
        r = self.client_credentials(key.proof("POST", self.token_url, nonce="forged." + nonce))
        self.assertOAuthError(r, 400, "use_dpop_nonce")
        r = self.client_credentials(key.proof("POST", self.token_url, nonce="1.AAAA"))
        self.assertOAuthError(r, 400, "use_dpop_nonce")
        r = self.client_credentials(key.proof("POST", self.token_url, nonce=nonce))
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertEqual(r.json()["token_type"], "DPoP")
        # Without DPoP at all, nothing changes (Bearer).
        self.assertEqual(self.client_credentials().json()["token_type"], "Bearer")

    def test_resource_nonce_flow(self):
        key = Key()
        nonce = self.client_credentials(key.proof("POST", self.token_url)).headers["DPoP-Nonce"]
        f = hi.Flow(self.server, "dpop-public", browser=self.browser,
                    redirect_uri=hi.LOOPBACK_REDIRECT_URI, scope=SCOPE).run()
        data = {"grant_type": "authorization_code", "code": f.code,
                "redirect_uri": hi.LOOPBACK_REDIRECT_URI, "code_verifier": f.verifier}
        r = self.post_token(data, key.proof("POST", self.token_url, nonce=nonce), "dpop-public")
        self.assertEqual(r.status_code, 200, hi.exchange(r))
        self.assertTrue(r.headers.get("DPoP-Nonce"), "a fresh nonce with the tokens")
        at = r.json()["access_token"]
        r = self.userinfo(at, key)
        self.assertDpopChallenge(r, "use_dpop_nonce")
        self.assertTrue(r.headers.get("DPoP-Nonce"), hi.exchange(r))
        r = self.userinfo(at, key, nonce=r.headers["DPoP-Nonce"])
        self.assertEqual(r.status_code, 200, hi.exchange(r))

if __name__ == "__main__":
    unittest.main()
