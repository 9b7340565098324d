"""Abuse limits of the real server (issue 16), over HTTP against the real binary
with the default extensions:

- failed client authentication at /token is throttled per client id and per
  source address: after [auth] client_auth_burst wrong secrets the endpoint
  answers 429 with Retry-After without checking the secret (a right secret that
  already verified still passes, also under concurrency: no lockout), and every
  refusal is logged at info with the client id and the address, never the
  secret;
- cookieless /authorize requests that need a login store a pending attempt
  each: beyond [auth] login_attempts_per_address the server answers 503 with
  Retry-After and stores nothing more.

Uses only the standard library; counts and statuses, no timing."""
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

BIN = os.environ["HABANERO_BIN"]
WASM = os.environ["HABANERO_WASM_OUT"]

SECRET = "the-operator-chose-this-secret"
BURST = 3
PER_ADDRESS = 4


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def request(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


class Server:
    def __init__(self, tmp):
        self.data = os.path.join(tmp, "data")
        self.config = os.path.join(tmp, "habanero.toml")
        with open(self.config, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\nshutdown_grace_ms = 2000\n'
                    '[runtime]\nextension_dir = "%s"\nwatch_interval_ms = 0\n'
                    '[auth]\nclient_auth_burst = %d\nclient_auth_refill_ms = 3600000\n'
                    'login_attempts_per_address = %d\n' % (self.data, WASM, BURST, PER_ADDRESS))
        self.cli("client", "add", "--id", "svc", "--secret", SECRET,
                 "--redirect-uri", "https://svc.example/cb")
        self.cli("client", "add", "--id", "spa", "--public",
                 "--redirect-uri", "https://spa.example/cb")
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        threading.Thread(target=self.pump, args=(self.proc.stderr,), daemon=True).start()
        self.issuer = None
        for line in self.proc.stdout:
            self.lines.append(line)
            m = re.search(r"issuer:\s+(\S+)", line)
            if m:
                self.issuer = m.group(1)
                break
        threading.Thread(target=self.pump, args=(self.proc.stdout,), daemon=True).start()
        if self.issuer is None:
            self.proc.kill()
            raise AssertionError("server did not start: " + self.log())

    def cli(self, *args):
        out = subprocess.run([BIN, *args, "--config", self.config], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr

    def pump(self, stream):
        for line in stream:
            self.lines.append(line)

    def log(self):
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


class AbuseLimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="habanero-abuse-")
        cls.server = Server(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def token(self, client_id, secret):
        basic = base64.b64encode(("%s:%s" % (client_id, secret)).encode()).decode()
        body = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
        return request(self.server.issuer + "/token", body,
                       {"Authorization": "Basic " + basic,
                        "Content-Type": "application/x-www-form-urlencoded"})

    def test_failed_client_authentication_is_throttled(self):
        status, _, body = self.token("svc", SECRET)
        self.assertNotEqual(status, 401, body)  # the right secret passes authentication
        self.assertNotEqual(status, 429, body)
        for i in range(BURST):
            status, _, body = self.token("svc", "wrong-%d" % i)
            self.assertEqual(status, 401, body)
            self.assertEqual(json.loads(body)["error"], "invalid_client")
        status, headers, body = self.token("svc", "wrong-again")
        self.assertEqual(status, 429, body)
        self.assertEqual(json.loads(body)["error"], "invalid_client")
        retry = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        self.assertIsNotNone(retry, headers)
        self.assertGreater(int(retry), 0)
        # While throttled, the right secret still passes: it verified before, so
        # the server recognises it without Argon2id and wrong guesses cannot lock
        # the client out. Many concurrent right requests are never throttled
        # either (each used to hold a token while it was checked).
        status, _, body = self.token("svc", SECRET)
        self.assertNotIn(status, (401, 429), body)
        with concurrent.futures.ThreadPoolExecutor(max_workers=3 * BURST) as pool:
            statuses = list(pool.map(lambda _: self.token("svc", SECRET)[0], range(6 * BURST)))
        self.assertEqual([st for st in statuses if st in (401, 429)], [], statuses)
        self.assertEqual(len(set(statuses)), 1, statuses)  # all answered alike
        # A wrong guess is still refused without being checked.
        status, _, body = self.token("svc", "wrong-yet-again")
        self.assertEqual(status, 429, body)

        log = self.server.log()
        self.assertRegex(log, r"wrong secret for client 'svc' from 127\.0\.0\.1")
        self.assertRegex(log, r"client 'svc' from 127\.0\.0\.1 throttled")
        self.assertNotIn("wrong-again", log)
        self.assertNotIn(SECRET, log)

    def test_pending_login_attempts_are_capped_per_address(self):
        verifier = "v" * 50
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": "spa", "redirect_uri": "https://spa.example/cb",
            "scope": "openid", "state": "s", "code_challenge": challenge,
            "code_challenge_method": "S256"})
        statuses = []
        for _ in range(PER_ADDRESS + 3):
            status, headers, _ = request(self.server.issuer + "/authorize?" + query)
            statuses.append((status, {k.lower(): v for k, v in headers.items()}))
        sent_to_login = [s for s, h in statuses if s in (302, 303)
                         and h.get("location", "").startswith("/login?rt=")]
        self.assertEqual(len(sent_to_login), PER_ADDRESS, statuses)
        refused = statuses[PER_ADDRESS:]
        for status, headers in refused:
            self.assertEqual(status, 503, statuses)
            self.assertIn("retry-after", headers)
        self.assertIn("pending from 127.0.0.1", self.server.log())
        # Only the admitted attempts were stored.
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.server.data, "habanero.db"),
                             uri=True)
        try:
            n = db.execute("select count(*) from kv where ns = '_host/login'").fetchone()[0]
            self.assertEqual(n, PER_ADDRESS)
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main()
