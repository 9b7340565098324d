"""magic-email against a real SMTP server (aiosmtpd writing a Maildir), issue 5.

Every test starts its own Habanero (oauth2 at /, magic-email at /login/email) and reads what
the server really sent from the Maildir:
  - link login and code login, through to tokens (amr ["otp", "email"]); the link's origin is the
    issuer even when the request named another Host;
  - the link is single use; it expires (ttl_s); a scanner's GET (another browser, no
    cookies) uses nothing up and the user's login still works;
  - wrong codes lock the code; an unknown address gets the byte-identical page (modulo rt and
    address) and no mail; per-address and per-IP send limits answer 429;
  - SMTP down when the user asks, up later: the outbox delivers the message; the message
    arrives and the login works;
  - templates overridden and translated (Accept-Language), HTML escaping; sign-up only with
    the setting AND the optional capability granted;
  - the same flow driven by npm openid-client (magic_openid_client.mjs).

    tests/e2e/run.sh magic_email_test.py [-k name]
"""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import SmtpServer, find_links, message_html, message_text, wait_until  # noqa: E402
from magic_common import (EMAIL_CODE, AuthFlow, MagicServer, MagicTestCase, UserAgent,  # noqa: E402
                          jwt_claims, manifest_capabilities, openid_client_modules, query_of,
                          run_openid_client)

ALICE = "alice@example.com"
MOUNT = "/login/email"


def confirm_link(msg):
    links = [u for u in find_links(message_text(msg)) if "/confirm?t=" in u]
    assert links, "no confirm link in:\n" + message_text(msg)
    return links[0]


def code_of(msg):
    m = EMAIL_CODE.search(message_text(msg))
    assert m, "no code in:\n" + message_text(msg)
    return m.group(1)


class EmailTest(MagicTestCase):
    def setUp(self):
        self.smtp = SmtpServer()
        self.addCleanup(self.smtp.close)

    def serve(self, settings=None, env=False, mail_url=None, **kw):
        self.server = MagicServer(mail_url=mail_url or self.smtp.url, env=env,
                                  settings={"magic-email": settings or {}}, **kw)
        self.server.add_user(email=ALICE, name="Alice Example")
        self.secret = self.server.add_client("rp")
        return self.server

    def ask(self, ua=None, address=ALICE, **kw):
        """Starts a flow and asks for a link; returns (flow, page after the post)."""
        flow = AuthFlow(self.server, ua or UserAgent(), "rp", self.secret, **kw)
        form = flow.start()
        page = flow.ua.submit(form, MOUNT + "/", {"address": address}, follow=False)
        return flow, page

    def assert_logged_in(self, flow, page, amr=("otp", "email")):
        tokens = flow.finish(page)
        claims = jwt_claims(tokens["id_token"])
        self.assertEqual(claims.get("email"), ALICE)
        self.assertEqual(claims.get("amr"), list(amr))
        self.assertEqual(claims.get("nonce"), flow.nonce)
        return claims

    # ---- the happy paths -------------------------------------------------------------------

    def test_link_login_through_real_smtp_configured_by_environment(self):
        self.serve(env=True)  # HABANERO_SMTP_URL / HABANERO_SMTP_FROM, as the README says
        flow, page = self.ask()
        self.assertEqual(page.status, 200, page.text)
        self.assertIn("Check your email", page.text)
        self.assertIn("If an account uses <strong>alice@example.com</strong>", page.text)
        self.assertEqual(page.header("cache-control"), "no-store")
        self.assertIn("frame-ancestors 'none'", page.header("content-security-policy"))

        msg = self.smtp.wait_for_message(ALICE)
        self.assertEqual(msg["X-MailFrom"], "login@habanero.test")
        self.assertIn("login@habanero.test", msg["From"])
        self.assertEqual(msg["To"], ALICE)
        self.assertEqual(msg["Subject"], "Your sign-in link for 127.0.0.1")
        link = confirm_link(msg)
        self.assertTrue(link.startswith(self.server.issuer + MOUNT + "/confirm?t="), link)
        token = query_of(link)["t"]
        self.assertGreaterEqual(len(token), 43, "at least 256 bits, base64url")
        self.assertRegex(code_of(msg), r"^[0-9A-Z]{4}-[0-9A-Z]{4}$")
        html = message_html(msg)
        self.assertIsNotNone(html, "a text/html part")
        self.assertIn('href="%s"' % link.replace("&", "&amp;"), html)
        self.assertIn(code_of(msg), html)

        # A GET shows a button and uses nothing up: twice, the same page.
        confirm = flow.ua.get(link, site="cross-site")
        self.assertEqual(confirm.status, 200, confirm.text)
        self.assertIn("Continue as <strong>alice@example.com</strong>", confirm.text)
        self.assertEqual(flow.ua.get(link, site="cross-site").status, 200)
        form = confirm.form(MOUNT + "/confirm")
        self.assertEqual(form["method"], "post")
        self.assertEqual(form["fields"].get("t"), token)
        done = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assertIn("habanero_session", flow.ua.cookies)
        self.assert_logged_in(flow, done)

    def test_code_login_typed_loosely(self):
        self.serve()
        flow, page = self.ask()
        code = code_of(self.smtp.wait_for_message(ALICE))
        typed = " " + code.lower().replace("-", " ").replace("0", "o") + " "
        done = flow.ua.submit(page, MOUNT + "/code", {"code": typed}, follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)
        # The link of the same message is gone with the code.
        gone = flow.ua.get(confirm_link(self.smtp.messages_to(ALICE)[0]))
        self.assertEqual(gone.status, 410, gone.text)

    def test_link_origin_is_the_issuer_never_the_host_header(self):
        self.serve()
        flow = AuthFlow(self.server, UserAgent(), "rp", self.secret)
        form = flow.start()
        f = form.form(MOUNT + "/")
        page = flow.ua.post(self.server.issuer + f["action"], dict(f["fields"], address=ALICE),
                            headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
        self.assertEqual(page.status, 200, page.text)
        msg = self.smtp.wait_for_message(ALICE)
        self.assertNotIn("evil.example", msg.as_string())
        self.assertTrue(confirm_link(msg).startswith(self.server.issuer + "/"))

    # ---- single use, expiry, scanners ------------------------------------------------------

    def test_link_used_twice(self):
        self.serve()
        flow, _ = self.ask()
        link = confirm_link(self.smtp.wait_for_message(ALICE))
        confirm = flow.ua.get(link)
        done = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(done.status, 303)
        self.assert_logged_in(flow, done)
        again = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(again.status, 410, again.text)
        self.assertIn("already used or has expired", again.text)
        self.assertEqual(flow.ua.get(link).status, 410)

    def test_link_and_code_expire(self):
        self.serve(settings={"ttl_s": 2})
        flow, page = self.ask()
        msg = self.smtp.wait_for_message(ALICE)
        self.assertIn("for 1 minutes", message_text(msg).replace("\n", " "))
        time.sleep(3)
        expired = flow.ua.get(confirm_link(msg))
        self.assertEqual(expired.status, 410, expired.text)
        self.assertIn("already used or has expired", expired.text)
        wrong = flow.ua.submit(page, MOUNT + "/code", {"code": code_of(msg)}, follow=False)
        self.assertEqual(wrong.status, 200)
        self.assertIn("That code is not right", wrong.text)

    def test_scanner_get_before_the_user_leaves_the_link_usable(self):
        self.serve()
        flow, _ = self.ask()
        link = confirm_link(self.smtp.wait_for_message(ALICE))
        scanner = UserAgent("mail-scanner")  # another client: no login cookie
        seen = scanner.get(link, site=None)
        self.assertEqual(seen.status, 400, seen.text)
        self.assertIn("only works in the browser where you asked for it", seen.text)
        # Even a scanner that presses the button uses nothing up.
        token = query_of(link)["t"]
        pressed = scanner.post(self.server.issuer + MOUNT + "/confirm", {"t": token}, site=None)
        self.assertEqual(pressed.status, 400, pressed.text)
        self.assertNotIn("habanero_session", scanner.cookies)
        confirm = flow.ua.get(link)
        self.assertEqual(confirm.status, 200, confirm.text)
        done = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)

    # ---- codes, enumeration, limits ---------------------------------------------------------

    def test_wrong_codes_lock_the_code_until_a_new_one_is_sent(self):
        self.serve(settings={"max_code_attempts": 3})
        flow, page = self.ask()
        msg = self.smtp.wait_for_message(ALICE)
        code = code_of(msg)
        wrong = "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY"
        p1 = flow.ua.submit(page, MOUNT + "/code", {"code": wrong}, follow=False)
        self.assertEqual(p1.status, 200)
        self.assertIn("That code is not right. 2 tries left.", p1.text)
        p2 = flow.ua.submit(page, MOUNT + "/code", {"code": "garbage!"}, follow=False)
        self.assertIn("1 try left", p2.text)
        p3 = flow.ua.submit(page, MOUNT + "/code", {"code": wrong}, follow=False)
        self.assertEqual(p3.status, 429, p3.text)
        self.assertIn("Too many wrong codes", p3.text)
        locked = flow.ua.submit(page, MOUNT + "/code", {"code": code}, follow=False)
        self.assertEqual(locked.status, 429, "the right code no longer works")
        # A new message: new code, new tries.
        form = flow.ua.get(self.server.issuer + MOUNT + "/?rt=" + flow.rt)
        fresh = flow.ua.submit(form, MOUNT + "/", {"address": ALICE}, follow=False)
        self.assertEqual(fresh.status, 200)
        code2 = code_of(self.smtp.wait_for_message(ALICE, skip=1))
        self.assertNotEqual(code2, code)
        done = flow.ua.submit(fresh, MOUNT + "/code", {"code": code2}, follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)

    def test_unknown_address_gets_the_identical_page_and_no_mail(self):
        self.serve()
        known_flow, known = self.ask(address=ALICE)
        unknown_flow, unknown = self.ask(address="nobody@example.com")
        self.assertEqual(known.status, unknown.status)

        def neutral(flow, page, address=None):
            text = page.text.replace(flow.rt, "RT")
            return text.replace(address, "ADDRESS") if address else text

        self.assertEqual(neutral(known_flow, known, ALICE),
                         neutral(unknown_flow, unknown, "nobody@example.com"))
        skip = ("date", "set-cookie", "content-length")
        self.assertEqual({k: v for k, v in known.headers.items() if k not in skip},
                         {k: v for k, v in unknown.headers.items() if k not in skip})
        self.smtp.wait_for_message(ALICE)
        self.server.wait_for_log(r"no account uses n\*\*\*@example\.com; nothing sent")
        self.assertEqual(self.smtp.messages_to("nobody@example.com"), [])
        # A wrong code reads the same for both, too (the tries are counted per attempt).
        wrong = [flow.ua.submit(page, MOUNT + "/code", {"code": "AAAA-AAAA"}, follow=False)
                 for flow, page in ((known_flow, known), (unknown_flow, unknown))]
        self.assertEqual(wrong[0].status, wrong[1].status)
        self.assertEqual(neutral(known_flow, wrong[0]), neutral(unknown_flow, wrong[1]))

    def test_send_limits_per_address_and_per_ip(self):
        self.serve(settings={"max_sends_per_address": 2, "max_sends_per_ip": 3})
        ua = UserAgent()
        for _ in range(2):
            _, page = self.ask(ua)
            self.assertEqual(page.status, 200)
        _, limited = self.ask(ua)
        self.assertEqual(limited.status, 429, limited.text)
        self.assertIn("Too many sign-in messages", limited.text)
        self.assertGreater(int(limited.header("retry-after")), 0)
        _, other = self.ask(ua, address="bob@example.com")  # 3rd send from this IP
        self.assertEqual(other.status, 200)
        _, ip_limited = self.ask(ua, address="carol@example.com")
        self.assertEqual(ip_limited.status, 429)
        self.smtp.wait_for_message(ALICE, skip=1)
        time.sleep(1)
        self.assertEqual(len(self.smtp.messages_to(ALICE)), 2, "the refused send sent nothing")

    def test_bad_input(self):
        self.serve()
        flow = AuthFlow(self.server, UserAgent(), "rp", self.secret)
        form = flow.start()
        bad = flow.ua.submit(form, MOUNT + "/", {"address": "not-an-address"}, follow=False)
        self.assertEqual(bad.status, 400)
        self.assertIn("Enter an email address like name@example.com.", bad.text)
        xss = flow.ua.submit(form, MOUNT + "/", {"address": '"><script>x</script>@a.b'},
                             follow=False)
        self.assertEqual(xss.status, 400)
        self.assertNotIn("<script>", xss.text)
        cross = flow.ua.post(self.server.issuer + MOUNT + "/",
                             {"rt": flow.rt, "address": ALICE}, site="cross-site")
        self.assertEqual(cross.status, 403)
        stranger = UserAgent().post(self.server.issuer + MOUNT + "/",
                                    {"rt": flow.rt, "address": ALICE})
        self.assertEqual(stranger.status, 400, "the attempt is bound to its browser")
        self.assertEqual(UserAgent().get(self.server.issuer + MOUNT + "/?rt=nope").status, 400)
        self.assertEqual(UserAgent().get(self.server.issuer + MOUNT + "/confirm?t=x").status, 410)
        time.sleep(0.5)
        self.assertEqual(self.smtp.messages(), [])

    # ---- delivery that loses nothing --------------------------------------------------------

    def test_smtp_down_during_the_request_then_up_delivers(self):
        self.serve()
        self.smtp.stop()
        flow, page = self.ask()
        self.assertEqual(page.status, 200, "the user sees the neutral page at once")
        self.server.wait_for_log(r"could not send to a\*\*\*@example\.com now")
        self.assertIn("magic-email", self.server.outbox_list())
        self.smtp.start()
        msg = self.smtp.wait_for_message(ALICE, timeout=30)
        self.server.wait_for_log(r"sent a sign-in email to a\*\*\*@example\.com")
        time.sleep(1)
        self.assertEqual(len(self.smtp.messages_to(ALICE)), 1, "sent once")
        confirm = flow.ua.get(confirm_link(msg))
        done = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        self.assertEqual(done.status, 303, done.text)
        self.assert_logged_in(flow, done)

    def test_permanent_refusal_is_failed_and_visible_to_the_operator(self):
        # A server that wants AUTH (and offers it only after STARTTLS) answers MAIL FROM with
        # 530: a 5xx, which no retry fixes. Habanero connects without credentials.
        self.smtp.close()
        self.smtp = SmtpServer(auth=("user", "secret"))
        self.addCleanup(self.smtp.close)
        self.serve(events={"max_attempts": 3}, mail_url="smtp://127.0.0.1:%d" % self.smtp.port)
        _, page = self.ask()
        self.assertEqual(page.status, 200, "the user still sees the neutral page")
        self.server.wait_for_log(r"sending to a\*\*\*@example\.com failed for good: rejected")
        listing = wait_until(lambda: (lambda out: out if "failed" in out else None)(
            self.server.outbox_list()), 15, "a failed record in `habanero outbox list`")
        self.assertIn("magic-email.deliver", listing)
        self.assertEqual(self.smtp.messages(), [])

    # ---- templates, locales, sign-up ---------------------------------------------------------

    def test_operator_templates_and_translation(self):
        self.serve(settings={
            "template_subject": "Sign in to {{host}}",
            "template_text": "Link: {{link}}\nCode: {{code}}\n{{unknown}}\n",
            "template_html": "",
            "template_subject.fr": "Connexion à {{host}}",
            "template_text.fr": "Lien : {{link}}\nCode : {{code}}\nValable {{minutes}} min.\n",
        })
        ua = UserAgent()
        ua_fr = UserAgent()
        self.ask(ua)
        msg = self.smtp.wait_for_message(ALICE)
        self.assertEqual(msg["Subject"], "Sign in to 127.0.0.1")
        self.assertIn("{{unknown}}", message_text(msg), "unknown placeholders stay visible")
        self.assertIsNone(message_html(msg), "template_html = \"\": text only")
        flow = AuthFlow(self.server, ua_fr, "rp", self.secret)
        form = flow.start()
        f = form.form(MOUNT + "/")
        ua_fr.post(self.server.issuer + f["action"], dict(f["fields"], address=ALICE),
                   headers={"Accept-Language": "de-DE, fr-CA;q=0.8, en;q=0.5"})
        fr = self.smtp.wait_for_message(ALICE, skip=1)
        self.assertEqual(fr["Subject"], "Connexion à 127.0.0.1")
        self.assertIn("Valable 10 min.", message_text(fr))
        self.assertRegex(message_text(fr), r"Code : [0-9A-Z]{4}-[0-9A-Z]{4}")

    def test_signup_needs_the_setting_and_the_grant(self):
        # The setting alone: the optional capability is not granted, so nobody is created.
        self.serve(settings={"signup": "true"})
        self.ask(address="stranger@example.com")
        self.server.wait_for_log(r"has not granted the signup capability")
        self.server.wait_for_log(r"no account uses s\*\*\*@example\.com; nothing sent")
        self.assertNotIn("stranger@example.com", self.server.cli("user", "list").stdout)
        self.server.stop()
        # The grant alone: sign-up stays off (the default).
        self.serve(grants={"magic-email": manifest_capabilities("magic-email") + ["signup"]})
        self.ask(address="stranger@example.com")
        self.server.wait_for_log(r"no account uses s\*\*\*@example\.com; nothing sent")
        self.assertNotIn("stranger@example.com", self.server.cli("user", "list").stdout)

    def test_signup_on_first_login_when_enabled_and_granted(self):
        self.serve(settings={"signup": "true"},
                   grants={"magic-email": manifest_capabilities("magic-email") + ["signup"]})
        flow, page = self.ask(address="New.Person@Example.COM")
        self.assertIn("new.person@example.com", page.text, "normalised")
        msg = self.smtp.wait_for_message("new.person@example.com")
        self.server.wait_for_log(r"signed up ")
        confirm = flow.ua.get(confirm_link(msg))
        done = flow.ua.submit(confirm, MOUNT + "/confirm", follow=False)
        tokens = flow.finish(done)
        self.assertEqual(jwt_claims(tokens["id_token"]).get("email"), "new.person@example.com")
        self.assertIn("new.person@example.com", self.server.cli("user", "list").stdout)


class OpenIdClientTest(MagicTestCase):
    """The flow driven by npm openid-client (discovery, PKCE, ID token checks, userinfo)."""

    def test_openid_client_link_and_code(self):
        modules = openid_client_modules()
        with SmtpServer() as smtp:
            self.server = MagicServer(mail_url=smtp.url)
            self.server.add_user(email=ALICE, name="Alice Example")
            secret = self.server.add_client("rp")
            sent = 0
            for mode in ("link", "code"):
                with self.subTest(mode=mode):
                    msg = lambda n=sent: smtp.wait_for_message(ALICE, skip=n)  # noqa: E731
                    answer = (lambda: confirm_link(msg())) if mode == "link" else (
                        lambda: code_of(msg()))
                    out = run_openid_client(self.server, modules, secret, "email", mode, ALICE,
                                            answer)
                    self.assertIn('"amr":["otp","email"]', out)
                    sent += 1


if __name__ == "__main__":
    unittest.main(verbosity=2)
