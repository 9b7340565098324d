"""The data directory is owner-only (0700) and every file in it — the SQLite
database with its -wal/-shm files, the key-encryption key — is 0600, after the
server starts and after every CLI command, whatever the umask (issue 16: keys
and files). The real binary runs under umask 000, the most permissive one.
Uses only the standard library."""
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

BIN = os.environ["HABANERO_BIN"]


def permissive(fn):
    """Runs fn() with umask 000 (inherited by the child processes it starts)."""
    old = os.umask(0)
    try:
        return fn()
    finally:
        os.umask(old)


class FileModesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-modes-")
        self.data = os.path.join(self.tmp, "data")
        self.config = os.path.join(self.tmp, "habanero.toml")
        with open(self.config, "w") as f:
            f.write('extensions = []\n[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\n'
                    'shutdown_grace_ms = 2000\n' % self.data)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def assert_owner_only(self, after):
        mode = stat.S_IMODE(os.stat(self.data).st_mode)
        self.assertEqual(mode, 0o700, "%s: data dir is %o after %s" % (self.data, mode, after))
        names = sorted(os.listdir(self.data))
        self.assertTrue(names, "no files in the data dir after %s" % after)
        for root, dirs, files in os.walk(self.data):
            for name in dirs:
                path = os.path.join(root, name)
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                self.assertEqual(mode, 0o700, "%s is %o after %s" % (path, mode, after))
            for name in files:
                path = os.path.join(root, name)
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                self.assertEqual(mode, 0o600, "%s is %o after %s" % (path, mode, after))
        return names

    def cli(self, *args):
        out = permissive(lambda: subprocess.run(
            [BIN, *args, "--config", self.config], capture_output=True, text=True, timeout=60))
        self.assertEqual(out.returncode, 0, "%s: %s%s" % (" ".join(args), out.stdout, out.stderr))
        return out.stdout

    def serve_once(self):
        proc = permissive(lambda: subprocess.Popen(
            [BIN, "serve", "--config", self.config],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        lines = []
        threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
        started = False
        deadline = time.time() + 60
        for line in proc.stdout:
            if re.search(r"issuer:\s+(\S+)", line):
                started = True
                break
            if time.time() > deadline:
                break
        try:
            self.assertTrue(started, "server did not start: " + "".join(lines))
            # While it runs (the database is open, -wal and -shm exist).
            self.assert_owner_only("serve (running)")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_every_command_leaves_owner_only_files(self):
        # The first command creates the directory, the database and the KEK.
        self.cli("client", "add", "--id", "web", "--redirect-uri", "https://app.example/cb")
        self.assert_owner_only("client add")
        self.serve_once()  # generates the KEK and the first signing key
        self.assertIn("kek", self.assert_owner_only("serve (stopped)"))
        for args in [("client", "list"),
                     ("client", "add", "--id", "svc", "--secret", "an-operator-chosen-secret",
                      "--redirect-uri", "https://svc.example/cb"),
                     ("client", "remove", "svc"),
                     ("user", "add", "--email", "ana@example.com"),
                     ("user", "list"),
                     ("user", "remove", "ana@example.com"),
                     ("keys", "rotate"),
                     ("keys", "list"),
                     ("outbox", "list"),
                     ("check",)]:
            self.cli(*args)
            self.assert_owner_only(" ".join(args))

    def test_a_loosened_directory_is_tightened_again(self):
        self.cli("keys", "list")
        os.chmod(self.data, 0o777)
        self.cli("keys", "list")
        self.assert_owner_only("keys list after chmod 777")


if __name__ == "__main__":
    unittest.main()
