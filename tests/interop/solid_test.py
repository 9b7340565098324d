"""Solid-OIDC end to end with real components (issue 6): Community Solid Server (CSS) is the
resource server, holding a pod whose WebID names Habanero as its solid:oidcIssuer and a
private resource only that WebID may read; Inrupt's @inrupt/solid-client-authn-node logs in
to Habanero and reads the resource with its DPoP-bound fetch.

    client credentials           a confidential client Habanero knows as acting for the pod's
                                 WebID (oauth2 setting webid_clients), DPoP-bound token
    auth code + PKCE + DPoP      as the user alice, whose record names the pod's WebID
                                 (`habanero user add --webid`), with the client identified by a
                                 Client Identifier Document served here; and with a
                                 confidential static client
    and the negative:            the same login for a user whose WebID does not name Habanero
                                 gets no webid, and CSS refuses the read

The scripts in tests/interop/solid/ (css.mjs, login.mjs; see its README.md) are run with
tests/interop/solid/run-node.sh, which installs the npm packages once (scripts/setup-solid.sh).
Habanero's issuer is http://localhost:PORT: CSS accepts http issuers only on *localhost, and
Habanero fetches the WebID profile from CSS on loopback ([outbound] allow_loopback = true).
"""
import json
import os
import queue
import signal
import subprocess
import threading
import unittest

import requests

import habanero_interop as hi
from dpop_test import DocumentServer, LoopbackHabanero

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_NODE = os.path.join(HERE, "solid", "run-node.sh")
SOLID_SCOPES = "openid webid offline_access"
BOT_CLIENT = "solid-bot"
STATIC_CLIENT = "solid-static"
POD = "alice"


class LocalhostHabanero(LoopbackHabanero):
    """Habanero on a port chosen beforehand, with issuer http://localhost:<port>."""

    fixed_port = None

    def _write_config(self):
        self.port = self.fixed_port
        self.issuer = "http://localhost:%d" % self.port
        super()._write_config()


class Css:
    """tests/interop/solid/css.mjs: CSS with one pod trusting `issuer`."""

    def __init__(self, port, issuer):
        self.proc = subprocess.Popen(
            [RUN_NODE, "css.mjs", "--port", str(port), "--issuer", issuer, "--stdin-stops"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            errors="replace", start_new_session=True)
        self.stderr = []
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout] + [lines.put(None)],
                         daemon=True).start()
        try:
            line = lines.get(timeout=600)  # the first run installs the npm packages
        except queue.Empty:
            line = None
        if not line:
            self.stop()
            raise RuntimeError("css.mjs did not start:\n" + "".join(self.stderr[-80:]))
        self.info = json.loads(line)

    def _pump_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=20)
            except (subprocess.TimeoutExpired, OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def login(*args, timeout=180):
    """Runs login.mjs; returns (exit code, its JSON result, stderr)."""
    out = subprocess.run([RUN_NODE, "login.mjs", *args], capture_output=True, text=True,
                         timeout=timeout)
    result = {}
    for line in reversed(out.stdout.splitlines()):
        try:
            result = json.loads(line)
            break
        except ValueError:
            continue
    return out.returncode, result, out.stderr


class SolidTest(hi.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        habanero_port, css_port = hi.free_port(), hi.free_port()
        issuer = "http://localhost:%d" % habanero_port
        webid = "http://localhost:%d/%s/profile/card#me" % (css_port, POD)
        cls.docs = DocumentServer()
        cls.css = None
        LocalhostHabanero.fixed_port = habanero_port
        cls.server = LocalhostHabanero(oauth2_settings={
            "webid_clients": "%s=%s" % (BOT_CLIENT, webid)})
        try:
            cls.css = Css(css_port, issuer)
            assert cls.css.info["webId"] == webid, cls.css.info
            # alice's record names the pod's WebID, whose profile names this issuer.
            cls.server.cli("user", "add", "--email", "alice@solid.example", "--password-stdin",
                           "--webid", webid, input=hi.USER_PASSWORD + "\n")
            # mallory claims a WebID whose profile names another issuer.
            other = cls.docs.base.replace("127.0.0.1", "localhost") + "/mallory#me"
            cls.docs.docs["/mallory"] = ("text/turtle",
                                         "<#me> <http://www.w3.org/ns/solid/terms#oidcIssuer> "
                                         "<https://elsewhere.example>.\n")
            cls.server.cli("user", "add", "--email", "mallory@solid.example",
                           "--password-stdin", "--webid", other,
                           input=hi.USER_PASSWORD + "\n")
            cls.bot_secret = cls.server.add_client(
                BOT_CLIENT, grant_types=["client_credentials"], scopes=SOLID_SCOPES,
                redirect_uris=[hi.REDIRECT_URI])
            cls.redirect = "http://localhost:%d/callback" % hi.free_port()
            cls.static_secret = cls.server.add_client(
                STATIC_CLIENT, grant_types=["authorization_code", "refresh_token"],
                scopes=SOLID_SCOPES, redirect_uris=[cls.redirect], name="Solid static app")
            cls.client_document = cls.docs.base.replace("127.0.0.1", "localhost") + "/app.jsonld"
            cls.docs.docs["/app.jsonld"] = ("application/ld+json", json.dumps({
                "@context": ["https://www.w3.org/ns/solid/oidc-context.jsonld"],
                "client_id": cls.client_document,
                "client_name": "Habanero Solid interop",
                "redirect_uris": [cls.redirect],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "scope": SOLID_SCOPES,
                "token_endpoint_auth_method": "none"}))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.css:
            cls.css.stop()
        cls.server.stop()
        cls.docs.stop()

    def assertRead(self, code, result, stderr):
        message = json.dumps(result, indent=1) + "\n" + stderr[-3000:] + "\n---- css ----\n" + \
            "".join(self.css.stderr[-40:])
        self.assertEqual(result.get("status"), 200, message)
        self.assertEqual(result.get("body"), self.css.info["secret"], message)
        self.assertEqual(code, 0, message)
        self.assertEqual(result.get("webId"), self.css.info["webId"], message)
        token = result.get("token", {})
        self.assertEqual(token.get("header", {}).get("alg"), "ES256", message)
        payload = token.get("payload", {})
        self.assertEqual(payload.get("webid"), self.css.info["webId"], message)
        self.assertEqual(payload.get("iss"), self.server.issuer, message)
        self.assertIn("solid", payload.get("aud", []), message)
        self.assertIn("jkt", payload.get("cnf", {}), message)

    def test_unauthenticated_read_is_refused(self):
        r = requests.get(self.css.info["private"], timeout=30)
        self.assertEqual(r.status_code, 401, r.text)

    def test_client_credentials(self):
        code, result, stderr = login(
            "client-credentials", "--issuer", self.server.issuer, "--client-id", BOT_CLIENT,
            "--client-secret=" + self.bot_secret, "--resource", self.css.info["private"])
        self.assertRead(code, result, stderr)
        self.assertEqual(result["token"]["payload"].get("client_id"), BOT_CLIENT)

    def test_auth_code_pkce_dpop_with_client_identifier_document(self):
        code, result, stderr = login(
            "auth-code", "--issuer", self.server.issuer, "--redirect-url", self.redirect,
            "--client-id", self.client_document, "--email", "alice@solid.example",
            "--password", hi.USER_PASSWORD, "--resource", self.css.info["private"])
        self.assertRead(code, result, stderr)
        self.assertEqual(result["token"]["payload"].get("client_id"), self.client_document)
        self.assertEqual(result.get("idToken", {}).get("webid"), self.css.info["webId"])

    def test_auth_code_pkce_dpop_with_static_client(self):
        code, result, stderr = login(
            "auth-code", "--issuer", self.server.issuer, "--redirect-url", self.redirect,
            "--client-id", STATIC_CLIENT, "--client-secret=" + self.static_secret,
            "--email", "alice@solid.example", "--password", hi.USER_PASSWORD,
            "--resource", self.css.info["private"])
        self.assertRead(code, result, stderr)

    def test_user_whose_webid_does_not_name_habanero_cannot_read(self):
        code, result, stderr = login(
            "auth-code", "--issuer", self.server.issuer, "--redirect-url", self.redirect,
            "--client-id", self.client_document, "--email", "mallory@solid.example",
            "--password", hi.USER_PASSWORD, "--resource", self.css.info["private"])
        self.assertNotEqual(code, 0, json.dumps(result))
        # Habanero granted no webid, so Inrupt's client finds none in the ID token.
        self.assertIn("no 'webid' claim", result.get("error", ""), json.dumps(result))
        self.assertNotEqual(result.get("status"), 200, json.dumps(result))
        self.assertNotEqual(result.get("body"), self.css.info["secret"])
        payload = result.get("token", {}).get("payload", {})
        self.assertNotIn("webid", payload, json.dumps(result))


if __name__ == "__main__":
    unittest.main()
