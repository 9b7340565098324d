"""The host's own domain events (issue 14, docs/events.md), received by an extension.

A real Habanero (oauth2 at /, password at /login/password, the admin API on) with the test
module audit_mailer (tests/wasm: event_mailer.cc under a manifest subscribed to every host
topic), which mails each event it receives to a real SMTP server (aiosmtpd, Maildir): subject
"event - <topic> <id> <attempt> <publisher>", text the payload. The test drives the server
as an operator and a user would and reads what arrived:
  - client created, changed (PUT) and removed through the admin API; a key rotated;
  - a password sign-in that fails (a known user, then an unknown address), then succeeds;
  - the code exchange: an access token and an ID token issued;
  - RP-initiated logout: the session ended;
and that no payload holds a password, a client secret, a token or the session cookie.

    tests/e2e/run.sh domain_events_test.py
"""
import json
import os
import secrets
import sys
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import SmtpServer, wait_until  # noqa: E402
from magic_common import REDIRECT_URI, AuthFlow, MagicServer, MagicTestCase, UserAgent, jwt_claims  # noqa: E402

ALICE = "alice@example.com"
PASSWORD = "a long and correct password 7"
WRONG = "not-the-password-but-close-7"
TOKEN = "admin-" + secrets.token_hex(16)
SINK = "events@example.test"


class DomainEventsTest(MagicTestCase):
    def setUp(self):
        self.smtp = SmtpServer()
        self.addCleanup(self.smtp.close)
        extra = ('[admin]\nenabled = true\ntoken = "%s"\n'
                 '[[extensions]]\nname = "audit_mailer"\nmodule = "audit_mailer.wasm"\n'
                 'mount = "/audit"\ngrants = ["http", "events", "mail", "settings"]\n' % TOKEN)
        self.server = MagicServer(authenticators=("password",), mail_url=self.smtp.url,
                                  extra_config=extra)
        self.server.cli("user", "add", "--email", ALICE, "--name", "Alice",
                        "--password-stdin", input=PASSWORD + "\n")
        self.alice = json.loads(self.admin("GET", "/admin/users")[1])["users"][0]["subject"]

    def admin(self, method, path, body=None):
        req = urllib.request.Request(
            self.server.issuer + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def events(self):
        """[(topic, payload dict, publisher, attempt, id)] of every mail so far."""
        out = []
        for m in self.smtp.messages_to(SINK):
            _, _, topic, rid, attempt, publisher = str(m["Subject"]).split(" ")
            text = m.get_body(preferencelist=("plain",)).get_content()
            out.append((topic, json.loads(text), publisher, int(attempt), rid))
        return out

    def wait_for(self, topic, count=1, **match):
        """The events of `topic` whose payload has the `match` fields, once `count` arrived."""
        def found():
            hits = [p for t, p, _, _, _ in self.events()
                    if t == topic and all(p.get(k) == v for k, v in match.items())]
            return hits if len(hits) >= count else None
        try:
            return wait_until(found, 60, "%d x %s %s" % (count, topic, match), 0.1)
        except TimeoutError as e:
            raise AssertionError("%s; events so far:\n%s\n---- server ----\n%s" % (
                e, "\n".join(json.dumps(x) for x in self.events()), self.server.log_tail()))

    def test_the_host_publishes_its_domain_events_to_a_subscribed_extension(self):
        # ---- the admin API: clients and keys --------------------------------------------
        secret = secrets.token_urlsafe(32)
        status, body = self.admin("POST", "/admin/clients", {
            "id": "rp", "secret": secret, "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "email", "profile"], "first_party": True, "name": "RP"})
        self.assertEqual(status, 201, body)
        created = self.wait_for("habanero.client.created", client_id="rp")[0]
        self.assertEqual(created["name"], "RP")
        self.assertEqual(created["redirect_uris"], [REDIRECT_URI])
        self.assertEqual(created["by"], "admin_api")

        status, body = self.admin("PUT", "/admin/clients/rp", {
            "secret": secret, "redirect_uris": [REDIRECT_URI],
            "post_logout_redirect_uris": [REDIRECT_URI + "/out"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["openid", "email", "profile"], "first_party": True, "name": "RP two"})
        self.assertEqual(status, 200, body)
        changed = self.wait_for("habanero.client.changed", client_id="rp")[0]
        self.assertEqual(changed["name"], "RP two")
        self.assertEqual(self.admin("PUT", "/admin/clients/nobody", {"public": True})[0], 404)

        status, body = self.admin("POST", "/admin/clients", {
            "id": "tmp", "grant_types": ["client_credentials"], "scopes": ["openid"]})
        self.assertEqual(status, 201, body)
        tmp_secret = json.loads(body)["client_secret"]
        self.assertEqual(self.admin("DELETE", "/admin/clients/tmp")[0], 204)
        self.wait_for("habanero.client.removed", client_id="tmp")

        status, body = self.admin("POST", "/admin/keys/rotate")
        self.assertEqual(status, 200, body)
        kids = [k["kid"] for k in json.loads(body)["keys"]]
        rotated = self.wait_for("habanero.key.rotated")[0]
        self.assertEqual(rotated["kid"], kids[0])
        self.assertEqual(rotated["previous_kid"], kids[1])

        # ---- sign-in: failed twice, then succeeded --------------------------------------
        ua = UserAgent("alice")
        flow = AuthFlow(self.server, ua, "rp", secret, authenticator="password",
                        scope="openid email profile")
        form = flow.start()
        wrong = ua.submit(form, "/login/password", {"email": ALICE, "password": WRONG},
                          follow=False)
        self.assertNotIn(wrong.status, (302, 303), ua.history())
        failed = self.wait_for("habanero.signin.failed", known_user=True)[0]
        self.assertEqual(failed["subject"], self.alice)
        self.assertEqual((failed["method"], failed["authenticator"], failed["ip"]),
                         ("pwd", "password", "127.0.0.1"))
        form = flow.start()
        ua.submit(form, "/login/password", {"email": "mallory@example.com", "password": WRONG},
                  follow=False)
        unknown = self.wait_for("habanero.signin.failed", known_user=False)[0]
        self.assertNotIn("subject", unknown)

        form = flow.start()
        done = ua.submit(form, "/login/password", {"email": ALICE, "password": PASSWORD},
                         follow=False)
        self.assertIn(done.status, (302, 303), ua.history())
        tokens = flow.finish(done)
        signed_in = self.wait_for("habanero.signin.succeeded", subject=self.alice)[0]
        self.assertEqual(signed_in["amr"], ["pwd"])
        self.assertEqual(signed_in["authenticator"], "password")
        id_claims = jwt_claims(tokens["id_token"])
        self.assertEqual(signed_in["sid"], id_claims["sid"])

        # ---- tokens: one access token, one ID token, for rp and Alice ----------------------
        access = self.wait_for("habanero.token.issued", kind="access_token", client_id="rp")[0]
        self.assertEqual(access["subject"], self.alice)
        self.assertEqual(access["jti"], jwt_claims(tokens["access_token"])["jti"])
        self.assertEqual(access["kid"], kids[0])
        self.assertEqual(access["amr"], ["pwd"])
        idt = self.wait_for("habanero.token.issued", kind="id_token", client_id="rp")[0]
        self.assertEqual(idt["subject"], self.alice)

        # ---- logout with the ID token as hint: the session ends at once ------------------
        cookie = ua.cookies.get("habanero_session")
        self.assertTrue(cookie)
        out = ua.get(self.server.issuer + "/logout?" + urllib.parse.urlencode(
            {"id_token_hint": tokens["id_token"]}))
        self.assertEqual(out.status, 200, ua.history())
        ended = self.wait_for("habanero.session.ended", subject=self.alice)[0]
        self.assertEqual((ended["sid"], ended["extension"]), (id_claims["sid"], "oauth2"))

        # ---- every event: from the host, first attempt, with a time; no secrets ------------
        everything = self.events()
        self.assertTrue(all(pub == "habanero" for _, _, pub, _, _ in everything), everything)
        self.assertTrue(all(isinstance(p.get("time"), int) for _, p, _, _, _ in everything))
        texts = json.dumps([p for _, p, _, _, _ in everything])
        for needle in (PASSWORD, WRONG, secret, tmp_secret, tokens["access_token"],
                       tokens["id_token"], tokens.get("refresh_token") or "-none-", cookie,
                       TOKEN, "mallory"):
            self.assertNotIn(needle, texts)
        print("%d host events received: %s" % (len(everything), ", ".join(
            sorted({t for t, _, _, _, _ in everything}))), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
