"""magic-sms against a real SMS gateway: Kannel (bearerbox + smsbox) with fakesmsc as the SMS
centre, issue 5. Every test starts its own Habanero (oauth2 at /, magic-sms at /login/sms,
[sms] url = kannel://user:pass@127.0.0.1:<sendsms port>) and reads what fakesmsc received:
  - code login and link login through to tokens (amr ["sms"]), numbers typed loosely;
  - malformed numbers are refused on the form with a message saying what is wrong;
    allowed_prefixes;
  - wrong codes lock the code (default 5); an unknown number gets the same page and no SMS;
    per-number and per-IP send limits (429);
  - the gateway down when the user asks, up later: the SMS arrives and the login works;
  - the flow driven by npm openid-client (magic_openid_client.mjs).

    tests/e2e/run.sh magic_sms_test.py [-k name]
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import Kannel, find_links  # noqa: E402
from magic_common import (SMS_CODE, AuthFlow, MagicServer, MagicTestCase, UserAgent,  # noqa: E402
                          jwt_claims, openid_client_modules, query_of, run_openid_client)

PHONE = "+447700900123"
TYPED = "+44 (7700) 900-123"
MOUNT = "/login/sms"


def code_of(text):
    m = SMS_CODE.search(text)
    assert m, "no 6-digit code in %r" % text
    return m.group(1)


def link_of(text):
    links = [u for u in find_links(text) if "/confirm?t=" in u]
    assert links, "no link in %r" % text
    return links[0]


class SmsTest(MagicTestCase):
    def setUp(self):
        self.kannel = Kannel()
        self.addCleanup(self.kannel.close)

    def serve(self, settings=None, **kw):
        url = "kannel://%s:%s@127.0.0.1:%d" % (self.kannel.username, self.kannel.password,
                                               self.kannel.sendsms_port)
        self.server = MagicServer(authenticators=("magic-sms",), sms_url=url,
                                  settings={"magic-sms": settings or {}}, **kw)
        self.server.add_user(phone=PHONE, name="Alice Example")
        self.secret = self.server.add_client("rp")
        return self.server

    def ask(self, ua=None, number=TYPED):
        flow = AuthFlow(self.server, ua or UserAgent(), "rp", self.secret,
                        authenticator="magic-sms")
        form = flow.start()
        return flow, flow.ua.submit(form, MOUNT + "/", {"address": number}, follow=False)

    def assert_logged_in(self, flow, page):
        tokens = flow.finish(page)
        claims = jwt_claims(tokens["id_token"])
        self.assertEqual(claims.get("amr"), ["sms"])
        self.assertEqual(claims.get("phone_number"), PHONE)
        return claims

    def test_code_login_through_kannel_configured_by_environment(self):
        self.serve(env=True)  # HABANERO_SMS_URL, as the README says
        flow, page = self.ask()
        self.assertEqual(page.status, 200, page.text)
        self.assertIn("Check your phone", page.text)
        self.assertIn("<strong>%s</strong>" % PHONE, page.text, "the number, normalised")
        text = self.kannel.wait_for_sms(PHONE)
        code = code_of(text)
        self.assertIn("%s is your 127.0.0.1 sign-in code" % code, text)
        self.assertTrue(text.rstrip().endswith("@127.0.0.1 #%s" % code), text)
        link = link_of(text)
        self.assertTrue(link.startswith(self.server.issuer + MOUNT + "/confirm?t="), link)
        self.assertGreaterEqual(len(query_of(link)["t"]), 22, "128 bits, base64url")
        done = flow.ua.submit(page, MOUNT + "/code", {"code": code[:3] + " " + code[3:]},
                              follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)
        # Single use: the link of that message is gone too.
        self.assertEqual(flow.ua.get(link).status, 410)

    def test_link_login_and_scanner_preview(self):
        self.serve()
        flow, _ = self.ask()
        link = link_of(self.kannel.wait_for_sms(PHONE))
        preview = UserAgent("link-preview").get(link, site=None)
        self.assertEqual(preview.status, 400)
        confirm = flow.ua.get(link, site="cross-site")
        self.assertEqual(confirm.status, 200, confirm.text)
        done = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)
        again = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(again.status, 410)

    def test_malformed_numbers_are_explained(self):
        self.serve(settings={"allowed_prefixes": "+44, +33"})
        flow = AuthFlow(self.server, UserAgent(), "rp", self.secret, authenticator="magic-sms")
        form = flow.start()
        cases = {
            "07700 900123": "international format",
            "+44 7700 9OO123": "only digits after the +",
            "+0 7700 900123": "never starts with 0",
            "+44 77": "8 to 15",
            "+44 7700 900123 456789": "8 to 15",
            "+1 415 555 0100": "starting with +44, +33",
        }
        for number, message in cases.items():
            with self.subTest(number=number):
                page = flow.ua.submit(form, MOUNT + "/", {"address": number}, follow=False)
                self.assertEqual(page.status, 400, page.text)
                self.assertIn(message, page.text)
                self.assertIn('value="%s"' % number, page.text, "what was typed is kept")
        ok = flow.ua.submit(form, MOUNT + "/", {"address": "0044 7700 900123"}, follow=False)
        self.assertEqual(ok.status, 200, ok.text)
        self.kannel.wait_for_sms(PHONE)
        self.assertEqual(len(self.kannel.messages()), 1)

    def test_wrong_codes_lock_after_five(self):
        self.serve()
        flow, page = self.ask()
        code = code_of(self.kannel.wait_for_sms(PHONE))
        wrong = "000000" if code != "000000" else "111111"
        for left in (4, 3, 2, 1):
            p = flow.ua.submit(page, MOUNT + "/code", {"code": wrong}, follow=False)
            self.assertEqual(p.status, 200)
            self.assertIn("%d tr" % left, p.text)
        locked = flow.ua.submit(page, MOUNT + "/code", {"code": wrong}, follow=False)
        self.assertEqual(locked.status, 429)
        self.assertIn("Too many wrong codes", locked.text)
        right = flow.ua.submit(page, MOUNT + "/code", {"code": code}, follow=False)
        self.assertEqual(right.status, 429, "the code is locked")

    def test_unknown_number_same_page_no_sms(self):
        self.serve()
        f1, known = self.ask(number=PHONE)
        f2, unknown = self.ask(number="+33612345678")
        self.assertEqual(known.status, unknown.status)
        self.assertEqual(known.text.replace(f1.rt, "RT").replace(PHONE, "N"),
                         unknown.text.replace(f2.rt, "RT").replace("+33612345678", "N"))
        self.kannel.wait_for_sms(PHONE)
        self.server.wait_for_log(r"no account uses \+33\*\*\*78; nothing sent")
        self.assertEqual(self.kannel.messages_to("+33612345678"), [])

    def test_send_limits_against_pumping(self):
        self.serve(settings={"max_sends_per_ip": 4})
        ua = UserAgent()
        for _ in range(3):  # the default per-number limit
            self.assertEqual(self.ask(ua)[1].status, 200)
        limited = self.ask(ua)[1]
        self.assertEqual(limited.status, 429, limited.text)
        self.assertIn("Retry-After".lower(), limited.headers)
        self.assertEqual(self.ask(ua, number="+33612345678")[1].status, 200)
        self.assertEqual(self.ask(ua, number="+33612345679")[1].status, 429, "per IP")
        self.kannel.wait_for_sms(PHONE, skip=2)
        time.sleep(1)
        self.assertEqual(len(self.kannel.messages_to(PHONE)), 3)

    def test_gateway_down_then_up_delivers(self):
        self.serve()
        self.kannel.stop()
        flow, page = self.ask()
        self.assertEqual(page.status, 200)
        self.server.wait_for_log(r"could not send to \+44\*\*\*23 now")
        self.kannel.start()
        text = self.kannel.wait_for_sms(PHONE, timeout=60)
        done = flow.ua.submit(page, MOUNT + "/code", {"code": code_of(text)}, follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)
        time.sleep(1)
        self.assertEqual(len(self.kannel.messages_to(PHONE)), 1, "sent once")

    def test_translated_sms(self):
        self.serve(settings={"template_sms.fr": "Code {{code}} pour {{host}} ({{minutes}} min)"})
        flow = AuthFlow(self.server, UserAgent(), "rp", self.secret, authenticator="magic-sms")
        form = flow.start()
        f = form.form(MOUNT + "/")
        flow.ua.post(self.server.issuer + f["action"], dict(f["fields"], address=PHONE),
                     headers={"Accept-Language": "fr-FR,fr;q=0.9"})
        text = self.kannel.wait_for_sms(PHONE)
        self.assertRegex(text, r"^Code \d{6} pour 127\.0\.0\.1 \(10 min\)$")

    def test_openid_client_with_the_sms_code(self):
        modules = openid_client_modules()
        self.serve()
        out = run_openid_client(self.server, modules, self.secret, "sms", "code", PHONE,
                                lambda: code_of(self.kannel.wait_for_sms(PHONE)))
        self.assertIn('"amr":["sms"]', out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
