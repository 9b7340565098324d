"""email_verified as a relying party people deploy checks it (issue 16): oauth2-proxy
(v7.15.6, built once from the Go module proxy by scripts/build-oauth2-proxy.sh) in front of
a tiny upstream, as an OpenID Connect client of a real Habanero (discovery, a registered
client, code + PKCE). oauth2-proxy refuses an ID token whose email_verified is not true.

  - a user whose address is not verified signs in with a password: oauth2-proxy refuses
    (the upstream is never reached; its log says the email isn't verified);
  - the same user then signs in with an email link (magic-email, through a real SMTP server):
    the host marks the address verified, the ID token says email_verified: true, and
    oauth2-proxy lets the user through to the upstream, naming the address.

    tests/e2e/run.sh oauth2_proxy_test.py
"""
import http.server
import os
import re
import secrets
import subprocess
import sys
import threading
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import SmtpServer, find_links, free_port, message_text, stop_process, wait_until  # noqa: E402
from magic_common import MagicServer, MagicTestCase, UserAgent  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BOB = "bob@example.com"
BOB_PASSWORD = "correct horse battery staple 42"


def oauth2_proxy_binary():
    """scripts/build-oauth2-proxy.sh: builds it the first time, then prints the cached path."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "build-oauth2-proxy.sh")],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise AssertionError("scripts/build-oauth2-proxy.sh failed:\n" + out.stderr[-4000:])
    return out.stdout.strip().splitlines()[-1]


class Upstream:
    """The application behind oauth2-proxy: answers 200 and records who reached it."""

    def __init__(self):
        self.seen = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append({"path": self.path, "email": self.headers.get("X-Forwarded-Email"),
                             "user": self.headers.get("X-Forwarded-User")})
                body = b"upstream reached\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class OAuth2Proxy:
    """oauth2-proxy on 127.0.0.1:port as the OIDC client `client_id` of `issuer`, in front
    of `upstream`; returns once /ping answers."""

    def __init__(self, binary, port, issuer, client_id, secret, upstream):
        self.url = "http://127.0.0.1:%d" % port
        self.redirect_uri = self.url + "/oauth2/callback"
        self.lines = []
        self.proc = subprocess.Popen([
            binary, "--provider=oidc", "--oidc-issuer-url=" + issuer,
            "--client-id=" + client_id, "--client-secret=" + secret,
            "--redirect-url=" + self.redirect_uri, "--upstream=" + upstream,
            "--http-address=127.0.0.1:%d" % port, "--email-domain=*",
            "--scope=openid email profile", "--code-challenge-method=S256",
            "--cookie-secret=" + secrets.token_hex(16), "--cookie-secure=false",
            "--skip-provider-button=true", "--pass-user-headers=true"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        threading.Thread(target=self._pump, daemon=True).start()

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("oauth2-proxy exited:\n" + self.log())
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        try:
            wait_until(up, 60, "oauth2-proxy on %s" % self.url, 0.1)
        except BaseException:
            self.stop()
            raise

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def log(self):
        return "".join(self.lines)

    def stop(self):
        stop_process(self.proc)
        self.proc.stdout.close()


class OAuth2ProxyTest(MagicTestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = oauth2_proxy_binary()

    def setUp(self):
        self.smtp = SmtpServer()
        self.addCleanup(self.smtp.close)
        self.upstream = Upstream()
        self.addCleanup(self.upstream.close)
        self.server = MagicServer(authenticators=("magic-email", "password"),
                                  mail_url=self.smtp.url)
        self.addCleanup(self.server.stop)  # also when setUp fails (then tearDown does not run)
        # A fresh user with a password and an address nobody has proven yet.
        self.server.cli("user", "add", "--email", BOB, "--name", "Bob", "--password-stdin",
                        input=BOB_PASSWORD + "\n")
        # The proxy's port is in its redirect URI: pick it, register the client, start it.
        secret = secrets.token_urlsafe(32)
        port = free_port()
        self.server.add_client("proxy", redirect_uris=["http://127.0.0.1:%d/oauth2/callback"
                                                       % port],
                               secret=secret, scopes="openid profile email")
        self.proxy = OAuth2Proxy(self.binary, port, self.server.issuer, "proxy", secret,
                                 self.upstream.url)
        self.addCleanup(self.proxy.stop)

    def sign_in_page(self, ua, mount):
        """GET a protected page of the proxy, through its redirect to Habanero's /authorize,
        to the sign-in form of the authenticator at `mount`."""
        page = ua.follow(ua.get(self.proxy.url + "/private?x=1", site="none"))
        if urllib.parse.urlsplit(page.url).path == "/login":
            links = [h for h in page.links if h.startswith(mount)]
            self.assertTrue(links, "no %s on the login page:\n%s" % (mount, page.text))
            page = ua.follow(ua.get(urllib.parse.urljoin(page.url, links[0])))
        self.assertEqual(page.status, 200, ua.history())
        self.assertTrue(urllib.parse.urlsplit(page.url).path.startswith(mount), ua.history())
        return page

    def test_unverified_email_is_refused_then_an_email_link_proves_it(self):
        # 1. Password sign-in: Habanero issues an ID token with email_verified false, and
        #    oauth2-proxy refuses it.
        ua = UserAgent("bob-password")
        form = self.sign_in_page(ua, "/login/password")
        end = ua.submit(form, "/login/password", {"email": BOB, "password": BOB_PASSWORD})
        self.assertNotEqual(end.status, 200, "oauth2-proxy let an unverified address in:\n"
                            + ua.history())
        self.assertTrue(any(urllib.parse.urlsplit(u).path == "/oauth2/callback"
                            for u in re.findall(r"(?m)^\S+ (\S+)", ua.history())),
                        "the sign-in reached oauth2-proxy's callback:\n" + ua.history())
        self.assertEqual(self.upstream.seen, [])
        wait_until(lambda: "isn't verified" in self.proxy.log(), 10,
                   "oauth2-proxy's reason in its log")
        self.assertIn("email in id_token (%s) isn't verified" % BOB, self.proxy.log())

        # 2. Email-link sign-in (another browser): the address is proven, the host marks it
        #    verified, and oauth2-proxy lets Bob through to the upstream.
        ua = UserAgent("bob-email")
        form = self.sign_in_page(ua, "/login/email")
        asked = ua.submit(form, "/login/email/", {"address": BOB}, follow=False)
        self.assertEqual(asked.status, 200, ua.history())
        msg = self.smtp.wait_for_message(BOB)
        link = [u for u in find_links(message_text(msg)) if "/confirm?t=" in u][0]
        confirm = ua.get(link, site="cross-site")
        end = ua.submit(confirm, "/login/email/confirm")
        self.assertEqual(end.status, 200, ua.history() + "\n---- oauth2-proxy ----\n"
                         + self.proxy.log())
        self.assertEqual(end.text, "upstream reached\n")
        self.assertEqual(urllib.parse.urlsplit(end.url).path, "/private")
        self.assertEqual(len(self.upstream.seen), 1, self.upstream.seen)
        self.assertEqual(self.upstream.seen[0]["email"], BOB)
        self.assertEqual(self.upstream.seen[0]["path"], "/private?x=1")


if __name__ == "__main__":
    unittest.main()
