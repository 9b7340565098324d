"""The execution model (issue 12) seen from outside, with the real binary:
requests that wait on a slow upstream or on Argon2id must not hold up the
others. Every assertion is about ordering and counts, never wall-clock limits.

  - 16 /indieauth/auth requests whose client_id is a local server that accepts
    and never answers (each waits up to fetch_timeout_ms): /token requests sent
    after them all complete while every one of the 16 is still waiting.
  - 24 client_credentials requests with a wrong operator-chosen secret (one
    Argon2id run each): token requests of another client, sent after them, all
    complete before the last wrong one is answered.
  - A correct operator-chosen secret costs Argon2id once, not on every request
    (the verified-secret cache): 200 requests complete in far fewer Argon2id
    runs than requests (counted from the log of the pool, not timed).
"""
import base64
import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from cli_test import Server  # noqa: E402  (the same process harness)

BIN = os.environ["HABANERO_BIN"]


class SilentServer:
    """Accepts TCP connections and never answers; counts them."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(c)

    def close(self):
        self.sock.close()
        with self.lock:
            for c in self.conns:
                c.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method, url, body=None, headers=None, timeout=30):
    """One request; redirects are answers, not followed."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def token(issuer, client_id, secret):
    auth = base64.b64encode(("%s:%s" % (client_id, secret)).encode()).decode()
    return http("POST", issuer + "/token", b"grant_type=client_credentials",
                {"Authorization": "Basic " + auth,
                 "Content-Type": "application/x-www-form-urlencoded"})


class ExecutionModelTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-exec-")
        self.data = os.path.join(self.tmp, "data")
        self.server = None
        self.silent = None

    def tearDown(self):
        if self.server:
            self.server.stop()
        if self.silent:
            self.silent.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args):
        p = subprocess.run([BIN, *args, "--data-dir", self.data], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def start(self, extra="", server_extra=""):
        out = self.cli("client", "add", "--id", "fast", "--grant-types", "client_credentials",
                       "--scopes", "openid")
        self.fast_secret = re.search(r"client_secret: (\S+)", out).group(1)
        text = ('[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\nthreads = 2\n%s'
                '[outbound]\nallow_loopback = true\nfetch_timeout_ms = 4000\n'
                # The execution model alone: no per-host fetch bound, no client-auth
                # throttle (abuse_limits_test and fetch_test cover those).
                'fetch_max_per_host = 0\nfetch_max_total = 0\nfetch_negative_cache_ms = 0\n'
                '[auth]\nclient_auth_burst = 0\nclient_auth_address_burst = 0\n'
                '[[clients]]\nid = "chosen"\nsecret = "an operator chose this secret"\n'
                'grant_types = ["client_credentials"]\nscopes = ["openid"]\n'
                % (self.data, server_extra)) + extra
        self.server = Server(self.tmp, text)
        self.issuer = self.server.issuer.rstrip("/")

    def send_slow_requests(self, n):
        """n /indieauth/auth requests whose client_id is a silent upstream (each waits
        for its fetch); returns their futures once the upstream has accepted as many
        connections as it is going to within 30 s."""
        self.silent = SilentServer()
        # "localhost", not 127.0.0.1: IndieAuth never fetches a loopback-literal client_id.
        client_id = "http://localhost:%d/app/" % self.silent.port
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": client_id,
            "redirect_uri": client_id + "cb", "state": "s", "me": "http://127.0.0.1/",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256"})
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=n + 8)
        return [pool.submit(http, "GET", self.issuer + "/indieauth/auth?" + query) for _ in range(n)]

    def wait_accepted(self, n):
        deadline = time.time() + 30
        while self.silent.accepted < n and time.time() < deadline:
            time.sleep(0.02)

    def test_slow_upstream_does_not_stall_token_requests(self):
        self.start()
        slow = self.send_slow_requests(16)
        self.wait_accepted(16)  # the server has connected to the silent upstream for all 16
        self.assertEqual(self.silent.accepted, 16, "the 16 requests did not all reach the upstream")
        answers = [token(self.issuer, "fast", self.fast_secret) for _ in range(20)]
        still_waiting = sum(1 for f in slow if not f.done())
        self.assertEqual([s for s, _ in answers], [200] * 20)
        self.assertEqual(still_waiting, 16,
                         "token requests were answered only after slow fetches ended")
        for f in slow:  # each ends once its fetch times out (the client is then unverified)
            status, body = f.result(timeout=60)
            self.assertIn(status, (302, 400), body)
        self.assertIn("timed out", self.server.log())

    def test_one_extension_holds_at_most_its_share_of_dispatch_threads(self):
        # 8 dispatch threads; indieauth's max_concurrency is unset, so 3/4 of them: 6.
        # 12 requests that wait on a silent upstream: 6 run (and reach it), 6 wait in
        # the queue holding no thread, and oauth2's /token still finds a free thread.
        # Without per-extension lanes all 8 threads wait and /token queues behind them.
        self.start(server_extra="dispatch_threads = 8\n")
        slow = self.send_slow_requests(12)
        self.wait_accepted(6)
        self.assertEqual(self.silent.accepted, 6, "six slow requests should be running")
        answers = [token(self.issuer, "fast", self.fast_secret) for _ in range(10)]
        still_waiting = sum(1 for f in slow if not f.done())
        self.assertEqual([s for s, _ in answers], [200] * 10)
        self.assertEqual(self.silent.accepted, 6,
                         "indieauth never ran more than its max_concurrency at once")
        self.assertGreaterEqual(still_waiting, 6, "token requests were answered after slow ones")
        statuses = [f.result(timeout=60)[0] for f in slow]
        # The six that ran end when their fetch times out; the six that waited past
        # queue_timeout_ms (2 s) were answered 503 + Retry-After without running.
        self.assertEqual(sum(1 for st in statuses if st == 503), 6, statuses)
        self.assertTrue(all(st in (302, 400, 503) for st in statuses), statuses)

    def test_wrong_chosen_secrets_do_not_starve_token_requests(self):
        self.start()
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=24)
        finished = []
        lock = threading.Lock()

        def wrong():
            r = token(self.issuer, "chosen", "not the secret")
            with lock:
                finished.append(time.monotonic())
            return r

        bad = [pool.submit(wrong) for _ in range(24)]
        time.sleep(0.05)  # let them queue for Argon2id
        answers = []
        for _ in range(20):
            answers.append(token(self.issuer, "fast", self.fast_secret))
        done_fast = time.monotonic()
        results = [f.result(timeout=120) for f in bad]
        self.assertEqual([s for s, _ in answers], [200] * 20)
        self.assertEqual(sorted(set(s for s, _ in results)), [401], [r for r in results if r[0] != 401][:3])
        self.assertLess(done_fast, max(finished),
                        "token requests waited for every wrong secret's Argon2id")

    def test_correct_chosen_secret_is_verified_once(self):
        self.start('[log]\nlevel = "debug"\n')
        for _ in range(50):
            status, body = token(self.issuer, "chosen", "an operator chose this secret")
            self.assertEqual(status, 200, body)
        status, body = token(self.issuer, "chosen", "wrong")
        self.assertNotEqual(status, 200)
        runs = len(re.findall(r"argon2id verification of client 'chosen'", self.server.log()))
        self.assertGreaterEqual(runs, 1, self.server.log()[-2000:])
        self.assertLessEqual(runs, 3, "a verified secret still costs Argon2id on every request")


if __name__ == "__main__":
    unittest.main()
