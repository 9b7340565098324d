"""The habanero binary as an operator runs it: start-up, signals, reload,
configuration errors. Uses only the standard library."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

BIN = os.environ["HABANERO_BIN"]
WASM = os.environ["HABANERO_WASM_OUT"]


def fetch(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def install(ext_dir, module, as_name):
    """Copies module.wasm and its manifest into ext_dir under another name."""
    with open(os.path.join(WASM, module + ".manifest.toml")) as f:
        manifest = f.read()
    manifest = manifest.replace('name = "%s"' % module, 'name = "%s"' % as_name)
    with open(os.path.join(ext_dir, as_name + ".manifest.toml.tmp"), "w") as f:
        f.write(manifest)
    shutil.copy(os.path.join(WASM, module + ".wasm"), os.path.join(ext_dir, as_name + ".wasm.tmp"))
    os.replace(os.path.join(ext_dir, as_name + ".manifest.toml.tmp"),
               os.path.join(ext_dir, as_name + ".manifest.toml"))
    os.replace(os.path.join(ext_dir, as_name + ".wasm.tmp"), os.path.join(ext_dir, as_name + ".wasm"))


class Server:
    def __init__(self, tmp, config_text):
        self.config = os.path.join(tmp, "habanero.toml")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stdout_lines = []
        self.stderr_lines = []
        self.issuer = None
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines), daemon=True).start()
        deadline = time.time() + 60
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            m = re.search(r"issuer:\s+(\S+)", line)
            if m:
                self.issuer = m.group(1)
                break
            if time.time() > deadline:
                break
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines), daemon=True).start()
        if self.issuer is None:
            self.proc.kill()
            raise AssertionError("server did not start: " + "".join(self.stderr_lines))

    @staticmethod
    def _pump(stream, sink):
        for line in stream:
            sink.append(line)

    def log(self):
        return "".join(self.stdout_lines + self.stderr_lines)

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


def config(data_dir, ext_dir, extensions):
    text = '[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\nshutdown_grace_ms = 5000\n' % data_dir
    text += '[runtime]\nextension_dir = "%s"\nwatch_interval_ms = 0\n' % ext_dir
    for name, module, grants, deadline in extensions:
        text += '[[extensions]]\nname = "%s"\nmodule = "%s"\nmount = "/%s"\ngrants = [%s]\ndeadline_ms = %d\n' % (
            name, module, name, ", ".join('"%s"' % g for g in grants), deadline)
    return text


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-cli-")
        self.ext_dir = os.path.join(self.tmp, "ext")
        os.makedirs(self.ext_dir)
        self.data = os.path.join(self.tmp, "data")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, extensions):
        s = Server(self.tmp, config(self.data, self.ext_dir, extensions))
        self.servers.append(s)
        return s

    def test_starts_with_defaults_and_prints_what_to_try(self):
        install(self.ext_dir, "hello", "hello")
        s = self.start([("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)])
        self.assertEqual(fetch(s.issuer + "/healthz")[0], 200)
        self.assertEqual(fetch(s.issuer + "/hello/?name=cli"), (200, "Hello, cli!\n"))
        self.assertIn("curl", s.log())
        self.assertTrue(os.path.exists(os.path.join(self.data, "habanero.db")))

    def test_reload_swaps_the_module_for_new_requests(self):
        install(self.ext_dir, "hello", "swap")
        s = self.start([("swap", "swap.wasm", ["http", "log", "kv", "settings"], 1000)])
        self.assertEqual(fetch(s.issuer + "/swap/"), (200, "Hello, world!\n"))
        install(self.ext_dir, "hostcall", "swap")
        out = subprocess.run([BIN, "reload", "--config", s.config], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        body = None
        for _ in range(100):
            body = fetch(s.issuer + "/swap/")[1]
            if body == "GET":
                break
            time.sleep(0.05)
        self.assertEqual(body, "GET")

    def test_sighup_keeps_the_running_version_when_the_new_file_is_broken(self):
        install(self.ext_dir, "hello", "hello")
        s = self.start([("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)])
        with open(os.path.join(self.ext_dir, "hello.wasm"), "wb") as f:
            f.write(b"\x00asm\x01\x00\x00\x00garbage")
        s.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertEqual(fetch(s.issuer + "/hello/"), (200, "Hello, world!\n"))
        self.assertIn("hello.wasm", s.log())

    def test_sigterm_lets_in_flight_requests_finish(self):
        install(self.ext_dir, "loop_forever", "loop_forever")
        install(self.ext_dir, "hello", "hello")
        s = self.start([("loop_forever", "loop_forever.wasm", ["http"], 1500),
                        ("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)])
        result = {}
        t = threading.Thread(target=lambda: result.update(r=fetch(s.issuer + "/loop_forever/")))
        t.start()
        time.sleep(0.3)
        s.proc.send_signal(signal.SIGTERM)
        t.join(timeout=30)
        # The in-flight request got its answer (its deadline's 503), not a reset.
        self.assertEqual(result.get("r", (None,))[0], 503)
        self.assertEqual(s.proc.wait(timeout=30), 0)

    def test_a_refused_extension_is_named_and_the_rest_serve(self):
        install(self.ext_dir, "ungranted_import", "ungranted_import")
        install(self.ext_dir, "hello", "hello")
        s = self.start([("ungranted_import", "ungranted_import.wasm", ["http"], 1000),
                        ("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)])
        self.assertEqual(fetch(s.issuer + "/hello/")[0], 200)
        self.assertEqual(fetch(s.issuer + "/ungranted_import/")[0], 503)
        time.sleep(0.2)
        self.assertRegex(s.log(), r"ungranted_import\.wasm: imports habanero\.kv_get")

    def test_config_errors_name_the_file_line_and_key(self):
        path = os.path.join(self.tmp, "bad.toml")
        with open(path, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nthreads = "many"\n')
        out = subprocess.run([BIN, "serve", "--config", path], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("bad.toml:3", out.stderr)
        self.assertIn("server.threads", out.stderr)

    def test_env_overrides_the_file(self):
        install(self.ext_dir, "hello", "hello")
        text = config(self.data, self.ext_dir, [("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)])
        path = os.path.join(self.tmp, "env.toml")
        with open(path, "w") as f:
            f.write(text.replace('listen = "127.0.0.1:0"', 'listen = "127.0.0.1:1"'))
        env = dict(os.environ, HABANERO_SERVER_LISTEN="127.0.0.1:0")
        proc = subprocess.Popen([BIN, "serve", "--config", path], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            for line in proc.stdout:
                if "issuer:" in line:
                    break
            self.assertRegex(line, r"http://localhost:\d+")
            self.assertNotIn("localhost:1\n", line)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            proc.stdout.close()
            proc.stderr.close()


def run(*args, stdin=None):
    """Runs the habanero binary; returns (returncode, stdout, stderr)."""
    out = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout, out.stderr


class RecordsCliTest(unittest.TestCase):
    """habanero client / user / keys: what add adds, list shows and remove removes."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-records-")
        self.data = os.path.join(self.tmp, "data")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args, stdin=None):
        return run(*args, "--data-dir", self.data, stdin=stdin)

    def test_client_add_list_remove(self):
        rc, out, err = self.cli("client", "add", "--id", "web", "--name", "Web App",
                                "--redirect-uri", "https://app.example/cb",
                                "--redirect-uri", "http://localhost:3000/cb",
                                "--post-logout-redirect-uri", "https://app.example/bye")
        self.assertEqual(rc, 0, err)
        secret = re.search(r"client_secret: (\S+)", out)
        self.assertIsNotNone(secret, out)
        self.assertEqual(len(secret.group(1)), 43)  # 256 bits, base64url
        self.assertIn("No running server", out)

        rc, out, err = self.cli("client", "add", "--id", "spa", "--public", "--first-party",
                                "--redirect-uri", "http://127.0.0.1:8000/cb",
                                "--grant-types", "authorization_code", "--scopes", "openid email",
                                "--token-format", "opaque")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("client_secret", out)

        rc, out, err = self.cli("client", "list")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^spa\s+public\s+yes\s+opaque\s+authorization_code\s")
        self.assertRegex(out, r"(?m)^web\s+confidential\s+no\s+jwt\s+"
                              r"authorization_code,refresh_token\s+Web App\s+"
                              r"https://app.example/cb http://localhost:3000/cb$")
        self.assertNotIn(secret.group(1), out)

        rc, _, err = self.cli("client", "add", "--id", "web", "--redirect-uri", "https://x.example/")
        self.assertNotEqual(rc, 0)
        self.assertIn("client 'web' already exists", err)

        rc, out, err = self.cli("client", "remove", "web")
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.cli("client", "list")
        self.assertNotRegex(out, r"(?m)^web\s")
        self.assertRegex(out, r"(?m)^spa\s")
        rc, _, err = self.cli("client", "remove", "web")
        self.assertNotEqual(rc, 0)
        self.assertIn("no client 'web'", err)

    def test_client_add_explains_bad_input(self):
        cases = [
            (["--redirect-uri", "http://app.example/cb"], "only allowed for localhost"),
            (["--redirect-uri", "https://app.example/cb#frag"], "fragment"),
            (["--redirect-uri", "/cb"], "absolute URI"),
            ([], "at least one --redirect-uri"),
            (["--redirect-uri", "https://a.example/", "--grant-types", "implicit"],
             "unknown grant type 'implicit'"),
            (["--redirect-uri", "https://a.example/", "--public", "--secret", "s"], "excludes"),
            (["--redirect-uri", "https://a.example/", "--token-format", "paseto"], "paseto"),
        ]
        for extra, message in cases:
            rc, out, err = self.cli("client", "add", "--id", "c", *extra)
            self.assertNotEqual(rc, 0, extra)
            self.assertIn(message, err + out, extra)
        rc, out, _ = self.cli("client", "list")
        self.assertIn("No clients registered", out)

    def test_chosen_secret_is_not_printed(self):
        rc, out, err = self.cli("client", "add", "--id", "svc", "--secret", "a-long-operator-secret",
                                "--grant-types", "client_credentials")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("a-long-operator-secret", out)
        self.assertNotIn("client_secret", out)

    def test_user_add_list_remove(self):
        rc, out, err = self.cli("user", "add", "--email", "Ana@Example.com", "--password-stdin",
                                "--name", "Ana Lima", "--phone", "+14155550100",
                                stdin="correct horse battery\n")
        self.assertEqual(rc, 0, err)
        subject = re.search(r"subject (\S+)\)", out).group(1)
        self.assertEqual(len(subject), 22)
        rc, out, err = self.cli("user", "add", "--email", "bob@example.com")
        self.assertEqual(rc, 0, err)
        self.assertIn("No password set", out)

        rc, out, err = self.cli("user", "list")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^ana@example.com\s+%s\s+Ana Lima\s+\+14155550100\s+yes\s"
                         % re.escape(subject))
        self.assertRegex(out, r"(?m)^bob@example.com\s+\S+\s+-\s+-\s+no\s")
        self.assertNotIn("argon2", out)

        rc, _, err = self.cli("user", "add", "--email", "ANA@example.com")
        self.assertNotEqual(rc, 0)
        self.assertIn("already exists", err)
        rc, _, err = self.cli("user", "add", "--email", "not-an-email")
        self.assertNotEqual(rc, 0)
        self.assertIn("email", err)
        rc, _, err = self.cli("user", "add", "--email", "c@example.com", "--phone", "555-1234")
        self.assertNotEqual(rc, 0)
        self.assertIn("E.164", err)

        rc, out, err = self.cli("user", "remove", "ana@example.com")
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.cli("user", "list")
        self.assertNotIn("ana@example.com", out)
        self.assertIn("bob@example.com", out)
        rc, _, err = self.cli("user", "remove", "ana@example.com")
        self.assertNotEqual(rc, 0)
        self.assertIn("no user", err)

    def test_keys_rotate_and_list(self):
        rc, out, err = self.cli("keys", "list")
        self.assertEqual(rc, 0, err)
        first = re.search(r"(?m)^(\S+)\s+ES256\s+active", out).group(1)
        rc, out, err = self.cli("keys", "rotate")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.cli("keys", "list")
        self.assertEqual(rc, 0, err)
        active = re.search(r"(?m)^(\S+)\s+ES256\s+active", out).group(1)
        self.assertNotEqual(active, first)
        self.assertRegex(out, r"(?m)^%s\s+ES256\s+retired\s" % re.escape(first))

    def write_config(self, text):
        path = os.path.join(self.tmp, "habanero.toml")
        with open(path, "w") as f:
            f.write('extensions = []\n[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\n'
                    '[runtime]\nwatch_interval_ms = 0\n' % self.data)
            f.write(text)
        return path

    def test_static_clients_from_the_config_file(self):
        path = self.write_config(
            '[[clients]]\nid = "web"\nsecret = "a-long-operator-secret"\nname = "Web App"\n'
            'redirect_uris = ["https://app.example/cb"]\n'
            '[[clients]]\nid = "spa"\nfirst_party = true\ntoken_format = "opaque"\n'
            'redirect_uris = ["http://localhost:3000/cb"]\ngrant_types = ["authorization_code"]\n')
        # Stored when the server is created (check creates it, as serve does).
        rc, out, err = run("check", "--config", path)
        self.assertEqual(rc, 0, out + err)
        rc, out, err = run("client", "list", "--config", path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^spa\s+public\s+yes\s+opaque\s+authorization_code\s+-\s+"
                              r"http://localhost:3000/cb$")
        self.assertRegex(out, r"(?m)^web\s+confidential\s+no\s+jwt\s+"
                              r"authorization_code,refresh_token\s+Web App\s+https://app.example/cb$")
        self.assertNotIn("a-long-operator-secret", out)
        # A changed entry replaces the stored one at the next start (no "already exists").
        path = self.write_config(
            '[[clients]]\nid = "web"\nsecret = "a-long-operator-secret"\nname = "Web 2"\n'
            'redirect_uris = ["https://app.example/cb2"]\n')
        rc, out, err = run("check", "--config", path)
        self.assertEqual(rc, 0, out + err)
        rc, out, err = run("client", "list", "--config", path)
        self.assertRegex(out, r"(?m)^web\s+confidential\s+no\s+jwt\s+\S+\s+Web 2\s+"
                              r"https://app.example/cb2$")

    def test_static_client_errors_name_the_file_line_and_key(self):
        cases = [
            ('[[clients]]\nid = "web"\nredirect_uris = ["http://app.example/cb"]\n',
             r"habanero.toml:9:17: clients\[0\].redirect_uris: redirect URI .*only allowed for localhost"),
            ('[[clients]]\nid = "web"\nredirect_uris = ["https://a.example/"]\n'
             'grant_types = ["implicit"]\n',
             r"habanero.toml:10:15: clients\[0\].grant_types: grant types: unknown grant type 'implicit'"),
            ('[[clients]]\nid = "web"\npublic = false\n',
             r"habanero.toml:9:10: clients\[0\].secret: a confidential client"),
            ('[[clients]]\nid = "web"\nredirect = ["https://a.example/"]\n',
             r"habanero.toml:9:1: clients\[0\].redirect: unknown key"),
        ]
        for text, pattern in cases:
            path = self.write_config(text)
            rc, out, err = run("check", "--config", path)
            self.assertNotEqual(rc, 0, text)
            self.assertRegex(err, pattern, text)
        rc, out, _ = run("client", "list", "--config", self.write_config(""))
        self.assertIn("No clients registered", out)

    def test_keys_alg_applies_at_the_next_rotation(self):
        path = self.write_config('[keys]\nalg = "EdDSA"\n')
        rc, out, err = run("keys", "list", "--config", path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^\S+\s+EdDSA\s+active")  # the first key
        path = self.write_config('[keys]\nalg = "RS256"\nretention_days = 1\n')
        rc, out, err = run("keys", "rotate", "--config", path)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^\S+\s+RS256\s+active")
        self.assertRegex(out, r"(?m)^\S+\s+EdDSA\s+retired")
        env = dict(os.environ, HABANERO_KEYS_ALG="HS256")
        out = subprocess.run([BIN, "keys", "list", "--config", path], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("keys.alg: must be one of ES256, RS256, EdDSA", out.stderr)

    def test_a_running_server_picks_up_changes_without_restart(self):
        ext_dir = os.path.join(self.tmp, "ext")
        os.makedirs(ext_dir)
        install(ext_dir, "hello", "hello")
        s = Server(self.tmp, config(self.data, ext_dir,
                                    [("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)]))
        self.servers.append(s)

        def wait_for(pattern):
            for _ in range(200):
                if re.search(pattern, s.log()):
                    return True
                time.sleep(0.05)
            return False

        self.assertTrue(wait_for(r"0 client\(s\) registered"), s.log())

        rc, out, err = run("client", "add", "--config", s.config, "--id", "late",
                           "--redirect-uri", "https://late.example/cb")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"Asked the running server \(pid %d\) to reload" % s.proc.pid)
        self.assertTrue(wait_for(r"reload: .*; 1 client\(s\) registered"), s.log())

        rc, out, err = run("client", "remove", "--config", s.config, "late")
        self.assertEqual(rc, 0, err)
        self.assertTrue(wait_for(r"reload: .*; 0 client\(s\) registered"), s.log())

        rc, out, err = run("keys", "rotate", "--config", s.config)
        self.assertEqual(rc, 0, err)
        self.assertIn("Asked the running server", out)
        self.assertEqual(fetch(s.issuer + "/healthz")[0], 200, "still serving after the reloads")

    def test_login_page_and_stylesheet_are_served_by_the_host(self):
        ext_dir = os.path.join(self.tmp, "ext")
        os.makedirs(ext_dir)
        install(ext_dir, "hello", "hello")
        s = Server(self.tmp, config(self.data, ext_dir,
                                    [("hello", "hello.wasm", ["http", "log", "kv", "settings"], 1000)]))
        self.servers.append(s)
        status, body = fetch(s.issuer + "/login?rt=unknown")
        self.assertEqual(status, 400)
        self.assertIn("This sign-in link has expired; start again from the application", body)
        self.assertIn('href="/static/style.css"', body)
        status, css = fetch(s.issuer + "/static/style.css")
        self.assertEqual(status, 200)
        self.assertIn(".button", css)


if __name__ == "__main__":
    unittest.main()
