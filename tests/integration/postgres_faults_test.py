"""A server on PostgreSQL when the database fails (issue 13): down or restarting
gives 503 on the requests that need it (no hang, no crash), the server recovers
by itself and logs the outage once; a malformed URL or a wrong password is
named at start-up. Its own PostgreSQL (it is stopped and started here)."""
import base64
import os
import shutil
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
import postgres_server  # noqa: E402

BIN = os.environ["HABANERO_BIN"]
PATIENCE_S = 30


def request(url, data=None, headers=None, with_headers=False):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            result = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        result = e.code, e.read().decode(), e.headers
    return result if with_headers else result[:2]


class PostgresFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = postgres_server.PostgresServer().init().start_server()

    @classmethod
    def tearDownClass(cls):
        cls.pg.destroy()

    def setUp(self):
        if not self.pg.running:
            self.pg.start_server()
        self.tmp = tempfile.mkdtemp(prefix="habanero-faults-")
        self.url = self.pg.create_database()
        self.kek_file = os.path.join(self.tmp, "kek")
        with open(self.kek_file, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        self.env = dict(os.environ, HABANERO_STORE_URL=self.url,
                        HABANERO_KEYS_KEK_FILE=self.kek_file)
        self.proc = None
        self.lines = []

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_cli(self, *args, env=None):
        return subprocess.run([BIN, *args, "--data-dir", os.path.join(self.tmp, "cli")],
                              env=env or self.env, capture_output=True, text=True, timeout=60)

    def serve(self, env=None):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data-dir", os.path.join(self.tmp, "data"), "--listen",
             "127.0.0.1:0"], env=env or self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        issuer = None
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.strip().startswith("issuer:"):
                issuer = line.split()[1]
                break
        threading.Thread(target=lambda: [self.lines.append(l) for l in self.proc.stdout],
                         daemon=True).start()
        return issuer

    def test_database_down_gives_503_then_recovers_by_itself(self):
        out = self.run_cli("client", "add", "--id", "svc", "--grant-types", "client_credentials",
                           "--scopes", "openid")
        self.assertEqual(out.returncode, 0, out.stderr)
        secret = [l.split()[1] for l in out.stdout.splitlines() if l.startswith("client_secret")][0]
        issuer = self.serve()
        self.assertIsNotNone(issuer, "".join(self.lines))
        basic = base64.b64encode(("svc:" + secret).encode()).decode()

        def token(with_headers=False):
            return request(issuer + "/token",
                           urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
                           {"Authorization": "Basic " + basic}, with_headers)

        self.assertEqual(token()[0], 200)
        self.pg.stop_server("immediate")
        for _ in range(5):
            status, body, headers = token(True)  # answered (urlopen's timeout is 30 s), not hung
            self.assertEqual(status, 503, body)
            self.assertIn("temporarily_unavailable", body)
            self.assertEqual(headers.get("Retry-After"), "1")
        self.assertEqual(request(issuer + "/healthz")[0], 200, "the process is alive")
        self.assertEqual(request(issuer + "/jwks.json")[0], 200, "no store needed")

        self.pg.start_server()  # same port: as a restart looks to the server
        deadline = time.time() + PATIENCE_S
        while time.time() < deadline and token()[0] != 200:
            time.sleep(0.1)
        self.assertEqual(token()[0], 200, "".join(self.lines))
        log = "".join(self.lines)
        self.assertEqual(log.count("requests get 503 until it is back"), 1, log)
        self.assertEqual(log.count("reachable again"), 1, log)

    def test_a_malformed_url_is_named_at_start(self):
        env = dict(self.env, HABANERO_STORE_URL="postgres://habanero:pw@127.0.0.1:notaport/db")
        out = self.run_cli("client", "list", env=env)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn('malformed: port "notaport"', out.stderr)
        env = dict(self.env, HABANERO_STORE_URL="mysql://db/x")
        out = self.run_cli("client", "list", env=env)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("store.url", out.stderr)

    def test_a_wrong_password_is_named_at_start_without_the_password(self):
        wrong = self.url.replace(self.pg.password, "not-the-password-77")
        proc = subprocess.run([BIN, "serve", "--data-dir", os.path.join(self.tmp, "data"),
                               "--listen", "127.0.0.1:0"],
                              env=dict(self.env, HABANERO_STORE_URL=wrong), capture_output=True,
                              text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("password authentication failed", proc.stderr)
        self.assertNotIn("not-the-password-77", proc.stdout + proc.stderr)

    def test_postgres_requires_a_key_encryption_key(self):
        env = dict(self.env)
        del env["HABANERO_KEYS_KEK_FILE"]
        out = self.run_cli("keys", "list", env=env)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("keys.kek_file (or HABANERO_KEYS_KEK) is required", out.stderr)


if __name__ == "__main__":
    unittest.main()
