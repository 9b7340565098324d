"""Two `habanero serve` processes on one PostgreSQL database (issue 13): a client
added or removed through one process's admin API, or a key rotated through the
CLI, reaches the other; a removed client's secret is refused by the other at
once, before its snapshot catches up. Real binary, real PostgreSQL."""
import base64
import json
import os
import shutil
import signal
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
TOKEN = "admin-token-0123456789abcdef"
# Propagation is expected within a second; the tests wait longer before failing
# (no timing assertions), and print what they saw.
PATIENCE_S = 15


def request(url, data=None, headers=None, method=None, timeout=10):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def shared_postgres():
    """The ctest fixture's server when there is one, else a private one."""
    state_dir = os.environ.get("HABANERO_TEST_POSTGRES")
    if state_dir and os.path.exists(os.path.join(state_dir, "state.json")):
        with open(os.path.join(state_dir, "state.json")) as f:
            return postgres_server.PostgresServer.from_state(json.load(f)), False
    return postgres_server.PostgresServer().init().start_server(), True


class Server:
    def __init__(self, tmp, name, url, kek_file):
        data = os.path.join(tmp, name)
        self.config = os.path.join(tmp, name + ".toml")
        with open(self.config, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\nshutdown_grace_ms = 2000\n'
                    '[runtime]\nwatch_interval_ms = 0\n'
                    '[store]\nurl = "%s"\n'
                    '[keys]\nkek_file = "%s"\n'
                    '[admin]\nenabled = true\ntoken = "%s"\n' % (data, url, kek_file, TOKEN))
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.issuer = None
        threading.Thread(target=self._pump, args=(self.proc.stderr,), daemon=True).start()
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.strip().startswith("issuer:"):
                self.issuer = line.split()[1]
                break
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        if self.issuer is None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc.stderr.close()
            raise AssertionError("server did not start:\n" + "".join(self.lines))

    def _pump(self, stream):
        for line in stream:
            self.lines.append(line)

    def admin(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"}
        return request(self.issuer + path, data, headers, method)

    def client_credentials(self, client_id, secret):
        basic = base64.b64encode(("%s:%s" % (urllib.parse.quote(client_id, safe=""),
                                             urllib.parse.quote(secret, safe=""))).encode())
        return request(self.issuer + "/token",
                       urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
                       {"Authorization": "Basic " + basic.decode(),
                        "Content-Type": "application/x-www-form-urlencoded"})

    def kids(self):
        status, body = request(self.issuer + "/jwks.json")
        return [k["kid"] for k in json.loads(body)["keys"]] if status == 200 else []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def wait_for(predicate):
    """Seconds until predicate() held (polling every 50 ms), or None."""
    start = time.time()
    while time.time() - start < PATIENCE_S:
        if predicate():
            return time.time() - start
        time.sleep(0.05)
    return None


class TwoServersOneDatabase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg, cls.own_pg = shared_postgres()

    @classmethod
    def tearDownClass(cls):
        if cls.own_pg:
            cls.pg.destroy()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-cluster-")
        self.url = self.pg.create_database()
        self.kek_file = os.path.join(self.tmp, "kek")
        with open(self.kek_file, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        os.chmod(self.kek_file, 0o600)
        self.a = Server(self.tmp, "a", self.url, self.kek_file)
        self.b = Server(self.tmp, "b", self.url, self.kek_file)

    def tearDown(self):
        for s in (self.a, self.b):
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args):
        env = dict(os.environ, HABANERO_STORE_URL=self.url, HABANERO_KEYS_KEK_FILE=self.kek_file)
        return subprocess.run([BIN] + list(args) + ["--data-dir", os.path.join(self.tmp, "cli")],
                              env=env, capture_output=True, text=True, timeout=60)

    def test_both_servers_share_one_key_set(self):
        self.assertEqual(self.a.kids(), self.b.kids())
        self.assertEqual(len(self.a.kids()), 1)

    def test_a_client_added_and_removed_on_one_server_reaches_the_other(self):
        status, body = self.a.admin("POST", "/admin/clients", {
            "id": "svc", "grant_types": ["client_credentials"], "scopes": ["openid"],
            "redirect_uris": []})
        self.assertEqual(status, 201, body)
        secret = json.loads(body)["client_secret"]
        self.assertEqual(self.a.client_credentials("svc", secret)[0], 200)
        took = wait_for(lambda: self.b.client_credentials("svc", secret)[0] == 200)
        self.assertIsNotNone(took, "the client never reached server b:\n" + "".join(self.b.lines))
        print("client add reached the other server after %.3f s" % took, file=sys.stderr)

        self.assertEqual(self.a.admin("DELETE", "/admin/clients/svc")[0], 204)
        # No waiting: b's snapshot may still hold the client, and it must refuse anyway.
        status, body = self.b.client_credentials("svc", secret)
        self.assertEqual(status, 401, body)
        took = wait_for(lambda: self.b.admin("GET", "/admin/clients")[1].find('"svc"') < 0)
        self.assertIsNotNone(took)

    def test_a_key_rotated_through_the_cli_reaches_both_servers(self):
        before = self.a.kids()
        result = self.cli("keys", "rotate")
        self.assertEqual(result.returncode, 0, result.stderr)
        took = [wait_for(lambda s=s: len(s.kids()) == 2 and s.kids()[1:] == before)
                for s in (self.a, self.b)]
        self.assertNotIn(None, took, "rotation did not reach both servers")
        print("key rotation reached the servers after %.3f s and %.3f s" % tuple(took),
              file=sys.stderr)
        self.assertEqual(self.a.kids(), self.b.kids())

    def test_a_wrong_key_encryption_key_is_named_at_start(self):
        wrong = os.path.join(self.tmp, "wrong-kek")
        with open(wrong, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        with self.assertRaises(AssertionError) as failed:
            Server(self.tmp, "c", self.url, wrong)
        self.assertIn("key-encryption key", str(failed.exception))


if __name__ == "__main__":
    unittest.main()
