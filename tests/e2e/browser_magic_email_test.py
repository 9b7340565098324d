"""The passwordless login in a real browser (Debian's Chromium via playwright-core), issue 5.

From the client's authorization request, through the host's list of sign-in methods, the
email form, the "check your email" page, the link from the message aiosmtpd delivered, the
confirmation button and the consent page, to the client's redirect URI (a real loopback
endpoint), then the code is redeemed. A screenshot of every page is saved as an artifact
($HABANERO_E2E_ARTIFACTS/magic_email/NN-*.png). The SMS variant does the same with Kannel and
the typed code, including the form's message for a malformed number.

    tests/e2e/run.sh browser_magic_email_test.py
"""
import base64
import hashlib
import os
import secrets
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import (Browser, CallbackServer, Kannel, SmtpServer, find_links,  # noqa: E402
                         message_html, message_text)
from magic_common import (EMAIL_CODE, SMS_CODE, MagicServer, MagicTestCase, b64url,  # noqa: E402
                          jwt_claims, token_request)

ALICE = "alice@example.com"
PHONE = "+447700900123"


def authorization_url(server, client_id, redirect_uri, scope):
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(12)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": state, "nonce": secrets.token_urlsafe(12),
              "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
              "code_challenge_method": "S256"}
    return server.issuer + "/authorize?" + urllib.parse.urlencode(params), verifier, state


class BrowserMagicTest(MagicTestCase):
    def redeem(self, callback, rp, verifier, state, secret):
        self.assertEqual(callback["query"].get("state"), state)
        self.assertIn("code", callback["query"], callback["url"])
        tokens = token_request(self.server, {
            "grant_type": "authorization_code", "code": callback["query"]["code"],
            "redirect_uri": rp.url, "code_verifier": verifier}, "rp", secret)
        return jwt_claims(tokens["id_token"])

    def test_email_link_in_chromium(self):
        with SmtpServer() as smtp, CallbackServer() as rp, \
                Browser(name="magic_email") as b:
            self.server = MagicServer(authenticators=("magic-email", "magic-sms", "password"),
                                      mail_url=smtp.url)
            self.server.add_user(email=ALICE, name="Alice Example")
            secret = self.server.add_client("rp", redirect_uris=[rp.url], first_party=False)
            url, verifier, state = authorization_url(self.server, "rp", rp.url,
                                                     "openid email profile")

            b.goto(url, screenshot="sign-in-methods")
            self.assertIn("/login?rt=", b.url())
            self.assertEqual(b.count("text=Email me a link"), 1, b.content())
            b.click("text=Email me a link", screenshot="email-form")
            self.assertIn("/login/email/", b.url())
            b.fill("input[name=address]", ALICE)
            b.click("button[type=submit]", screenshot="check-your-email")
            self.assertIn("Check your email", b.text("h1"))

            msg = smtp.wait_for_message(ALICE)
            links = [u for u in find_links(message_text(msg)) if "/confirm?t=" in u]
            self.assertEqual(len(links), 1, message_text(msg))
            self.assertTrue(EMAIL_CODE.search(message_text(msg)))
            # The message as a mail client shows its HTML part (a data: URL stays local).
            b.goto("data:text/html;base64," + base64.b64encode(
                message_html(msg).encode()).decode(), screenshot="the-email")
            b.goto(links[0], screenshot="confirm")
            self.assertIn("Finish signing in", b.text("h1"))
            b.click("button[type=submit]", screenshot="consent")
            b.click("button[value=approve]")
            b.wait_for_url(rp.url)
            b.screenshot("back-at-the-client")
            callback = rp.wait_for_request()
            claims = self.redeem(callback, rp, verifier, state, secret)
            self.assertEqual(claims["email"], ALICE)
            self.assertEqual(claims["amr"], ["otp", "email"])
            self.assertEqual(b.blocked(), [], "nothing but loopback was reached")

    def test_sms_code_in_chromium(self):
        with Kannel() as kannel, CallbackServer() as rp, Browser(name="magic_sms") as b:
            sms_url = "kannel://%s:%s@127.0.0.1:%d" % (kannel.username, kannel.password,
                                                       kannel.sendsms_port)
            self.server = MagicServer(authenticators=("magic-sms",), sms_url=sms_url)
            self.server.add_user(phone=PHONE, name="Alice Example")
            secret = self.server.add_client("rp", redirect_uris=[rp.url])
            url, verifier, state = authorization_url(self.server, "rp", rp.url, "openid phone")

            b.goto(url, screenshot="sms-form")  # the only method: /login redirects to it
            self.assertIn("/login/sms/", b.url())
            b.fill("input[name=address]", "07700 900123")
            b.click("button[type=submit]", screenshot="sms-malformed-number")
            self.assertIn("international format", b.text("#error"))
            b.fill("input[name=address]", "+44 7700 900123")
            b.click("button[type=submit]", screenshot="check-your-phone")
            code = SMS_CODE.search(kannel.wait_for_sms(PHONE)).group(1)
            b.fill("input[name=code]", code)
            b.click("button[type=submit]")
            b.wait_for_url(rp.url)
            b.screenshot("sms-back-at-the-client")
            claims = self.redeem(rp.wait_for_request(), rp, verifier, state, secret)
            self.assertEqual(claims["phone_number"], PHONE)
            self.assertEqual(claims["amr"], ["sms"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
