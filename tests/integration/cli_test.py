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


if __name__ == "__main__":
    unittest.main()
