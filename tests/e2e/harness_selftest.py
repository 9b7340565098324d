"""Proves each real component of the e2e harness works on its own, with clients nobody here
wrote: curl's SMTP against aiosmtpd, Kannel's sendsms HTTP interface through to fakesmsc,
and Chromium (playwright-core) on a page served by python's http.server.

    tests/e2e/run.sh harness_selftest.py       # what ctest's e2e_harness_selftest runs
"""
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import (Browser, BrowserError, CallbackServer, Kannel, SmtpServer, find_links,  # noqa: E402
                         message_text, parse_fakesmsc, port_open)

MAIL = (
    "From: Habanero <login@habanero.test>\r\n"
    "To: Alice <alice@example.com>\r\n"
    "Subject: Your sign-in link\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Hi Alice \u2014 sign in: http://127.0.0.1:8080/login/email/confirm?t=abc123.\r\n"
    "Or type the code 934-112.\r\n"
)


class SmtpTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-e2e-selftest-")
        self.eml = os.path.join(self.tmp, "mail.eml")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        with open(self.eml, "wb") as f:
            f.write(MAIL.encode("utf-8"))

    def curl(self, smtp, url=None, user=None, extra=()):
        cmd = ["curl", "-sS", "--max-time", "20", "--url",
               url or "smtp://127.0.0.1:%d" % smtp.port,
               "--mail-from", "login@habanero.test", "--mail-rcpt", "alice@example.com",
               "--upload-file", self.eml, *extra]
        if user:
            cmd += ["--user", "%s:%s" % user]
        if smtp.cafile:
            cmd += ["--cacert", smtp.cafile]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    def check_delivered(self, smtp, tls, auth, skip=0):
        msg = smtp.wait_for_message("alice@example.com", timeout=10, skip=skip)
        self.assertEqual(msg["Subject"], "Your sign-in link")
        self.assertEqual(msg["X-MailFrom"], "login@habanero.test")
        self.assertEqual(msg["X-Habanero-E2E-TLS"], tls)
        self.assertEqual(msg["X-Habanero-E2E-Auth"], auth)
        text = message_text(msg)
        self.assertIn("Alice \u2014", text)
        self.assertEqual(find_links(text), ["http://127.0.0.1:8080/login/email/confirm?t=abc123"])
        return msg

    def test_plain_smtp_to_maildir_and_restart_on_same_port(self):
        with SmtpServer() as smtp:
            self.assertEqual(smtp.url, "smtp://127.0.0.1:%d" % smtp.port)
            r = self.curl(smtp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_delivered(smtp, "no", "none")
            self.assertTrue(os.listdir(os.path.join(smtp.maildir, "new")))

            smtp.stop()
            self.assertFalse(port_open(smtp.port))
            r = self.curl(smtp)
            self.assertNotEqual(r.returncode, 0, "curl delivered to a stopped server")
            smtp.start()
            r = self.curl(smtp)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.check_delivered(smtp, "no", "none", skip=1)
            self.assertEqual(len(smtp.messages()), 2)

    def test_starttls_with_auth(self):
        with SmtpServer(tls="starttls", require_starttls=True,
                        auth=("mailer", "s3cret:pw@x")) as smtp:
            self.assertEqual(smtp.url,
                             "smtp://mailer:s3cret%3Apw%40x@127.0.0.1:" + str(smtp.port))
            # Without STARTTLS the server refuses; without credentials too.
            r = self.curl(smtp, user=("mailer", "s3cret:pw@x"))
            self.assertNotEqual(r.returncode, 0)
            r = self.curl(smtp, extra=["--ssl-reqd"])
            self.assertNotEqual(r.returncode, 0)
            r = self.curl(smtp, user=("mailer", "wrong"), extra=["--ssl-reqd"])
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(smtp.messages(), [])
            r = self.curl(smtp, user=("mailer", "s3cret:pw@x"), extra=["--ssl-reqd"])
            self.assertEqual(r.returncode, 0, r.stderr + smtp.log())
            self.check_delivered(smtp, "yes", "mailer")

    def test_implicit_tls_with_auth(self):
        with SmtpServer(tls="implicit", auth=("mailer", "pw")) as smtp:
            self.assertTrue(smtp.url.startswith("smtps://mailer:pw@127.0.0.1:"))
            r = self.curl(smtp, url="smtps://127.0.0.1:%d" % smtp.port, user=("mailer", "pw"))
            self.assertEqual(r.returncode, 0, r.stderr + smtp.log())
            self.check_delivered(smtp, "yes", "mailer")


class KannelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kannel = Kannel()

    @classmethod
    def tearDownClass(cls):
        cls.kannel.close()

    def test_sendsms_reaches_fakesmsc(self):
        k = self.kannel
        text = "Your Habanero code is 482913.\nOr open http://127.0.0.1:8080/login/sms/l/Zx9"
        status, body = k.send("+15551234567", text, sender="Habanero")
        self.assertEqual((status, body), (202, "0: Accepted for delivery"))
        self.assertEqual(k.wait_for_sms("+15551234567", timeout=15), text)
        sms = k.messages_to("+15551234567")[0]
        self.assertEqual(sms.sender, "Habanero")

    def test_long_and_unicode_messages(self):
        k = self.kannel
        long = "Sign in to Habanero: " + "x" * 200 + " \u00e9 \u20ac end"  # 3 GSM parts
        self.assertEqual(k.send("+15550000001", long)[0], 202)
        self.assertEqual(k.wait_for_sms("+15550000001", timeout=15), long)
        self.assertEqual(k.messages_to("+15550000001")[0].sender, "Habanero")  # global-sender
        ucs2 = "Code 123456 \u65e5\u672c \u00fc"
        self.assertEqual(k.send("+15550000002", ucs2, coding="2", charset="UTF-8")[0], 202)
        self.assertEqual(k.wait_for_sms("+15550000002", timeout=15), ucs2)

    def test_credentials_are_checked(self):
        k = self.kannel
        url = k.sendsms_url() + "?username=%s&password=wrong&to=%%2B1555&text=x" % k.username
        try:
            urllib.request.urlopen(url, timeout=10)
            self.fail("wrong password accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)
        self.assertTrue(k.sendsms_url(credentials=True).endswith(
            "?username=%s&password=%s" % (k.username, k.password)))

    def test_gateway_down_and_up_again(self):
        k = self.kannel
        k.stop()
        self.assertFalse(port_open(k.sendsms_port))
        with self.assertRaises(OSError):
            k.send("+15550000003", "while down")
        k.start()
        self.assertEqual(k.send("+15550000003", "after restart")[0], 202)
        self.assertEqual(k.wait_for_sms("+15550000003", timeout=15), "after restart")

    def test_parser(self):
        log = "\n".join([
            "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 1: <Hab +1 text a b  >",
            "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 2: <second line>",
            "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 3: <Hab +2 data a+b%C3%A9>",
            "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 4: <Hab +3 udh %05%00%03%07%02%02 data world>",
            "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 5: <Hab +3 udh %05%00%03%07%02%01 data hello+>",
            "2026-01-01 00:00:00 [1] [0] DEBUG: Got message 6: <Hab +4 ucs-2 %00h%00%E9>",
        ])
        got = [(m.to, m.text) for m in parse_fakesmsc(log)]
        self.assertEqual(got, [("+1", "a b  \nsecond line"), ("+2", "a b\u00e9"),
                               ("+3", "hello world"), ("+4", "h\u00e9")])


PAGE = b"""<!doctype html><html><head><meta charset="utf-8"><title>E2E self-test</title></head>
<body><h1 id="state">Waiting</h1>
<form method="post" action="/next"><input type="email" name="email">
<button type="submit">Email me a link</button></form>
<button id="go" onclick="document.getElementById('state').textContent = 'Clicked'">Go</button>
<img src="https://not-loopback.example/pixel.png" alt="">
</body></html>"""


class Pages(http.server.BaseHTTPRequestHandler):
    redirect_to = None

    def do_GET(self):
        self._send(PAGE)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(303)
        target = Pages.redirect_to or "https://rp.example/callback"
        self.send_header("Location", target + "?got=" + body.decode())
        self.send_header("Set-Cookie", "sid=abc; HttpOnly; Path=/")
        self.end_headers()

    def _send(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class BrowserTest(unittest.TestCase):
    def setUp(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()

    def test_click_submit_screenshot_stub(self):
        with Browser(name="harness_selftest", stubs=["https://rp.example/callback"]) as b:
            self.assertEqual(b.goto(self.base + "/", screenshot="page"), self.base + "/")
            self.assertEqual(b.title(), "E2E self-test")
            b.click("#go")
            self.assertEqual(b.text("#state"), "Clicked")
            shot = b.screenshot("clicked")
            with open(shot, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
            self.assertGreater(os.path.getsize(shot), 1000)
            b.fill("input[name=email]", "alice@example.com")
            url = b.click("text=Email me a link", screenshot="after-submit")
            self.assertEqual(url, "https://rp.example/callback?got=email=alice%40example.com")
            self.assertEqual(b.stubbed(), [url])
            self.assertEqual([c["name"] for c in b.cookies()], ["sid"])
            # Nothing but loopback is reached.
            self.assertIn("https://not-loopback.example/pixel.png", b.blocked())
            with self.assertRaises(BrowserError):
                b.goto("https://not-loopback.example/")
            print("screenshots in", b.artifacts, sorted(os.listdir(b.artifacts)), flush=True)

    def test_redirect_to_a_real_loopback_callback(self):
        with CallbackServer() as cb, Browser(name="harness_selftest_callback") as b:
            Pages.redirect_to = cb.url
            try:
                b.goto(self.base + "/")
                b.fill("input[name=email]", "bob@example.com")
                url = b.submit("form", screenshot="callback")
            finally:
                Pages.redirect_to = None
            self.assertEqual(url, cb.url + "?got=email=bob%40example.com")
            got = cb.wait_for_request(timeout=5)
            self.assertEqual(got["query"], {"got": "email=bob@example.com"})
            self.assertEqual(b.text("h1"), "Client callback")
            self.assertEqual(b.navigations(), [self.base + "/", self.base + "/next", url])


if __name__ == "__main__":
    unittest.main(verbosity=2)
