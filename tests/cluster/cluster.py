"""A Habanero cluster on loopback for tests: PostgreSQL, N workers and one gateway.

    with Cluster(workers=2) as c:             # oauth2 at "/", password at "/login/password"
        c.add_user(hi.USER_EMAIL, hi.USER_PASSWORD)
        secret = c.add_client("rp", ...)      # the CLI against the shared store; the gateway
                                              # and its workers reload at once
        requests.get(c.issuer + "/.well-known/openid-configuration")
        c.kill_worker(0)                      # kill -9
        c.start_worker(2)                     # a spare slot of the gateway's worker list

Every process is the real `habanero serve` binary with its role (--role gateway|worker), the
same extensions and the same configuration apart from its ports and data directory, as an
operator would run them. The gateway's worker list has `workers + spares` slots; spares are
not started until start_worker() (a new worker joins). Same interface as
tests/interop/habanero_interop.Habanero where it matters (issuer, config, cli, add_user,
add_client, discovery, log_tail, stop), so the interop suites run against a cluster unchanged.

Environment: HABANERO_BIN and HABANERO_WASM_OUT (set by tests/cluster/CMakeLists.txt).
"""
import base64
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import habanero_interop as hi  # noqa: E402
from postgres_server import PostgresServer  # noqa: E402

BIN = hi.BIN
WASM = hi.WASM


class Process:
    """One `habanero serve` with its own config file and data directory."""

    def __init__(self, name, config_path, data_dir):
        self.name = name
        self.config = config_path
        self.data = data_dir
        self.proc = None
        self.lines = []

    def start(self, ready_marker):
        self.lines = []
        self.proc = subprocess.Popen([BIN, "serve", "--config", self.config],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     errors="replace")
        started = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.lines.append(line)
                if ready_marker in line:
                    started.set()
            started.set()

        threading.Thread(target=pump, daemon=True).start()
        if not started.wait(timeout=120) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError("%s did not start:\n%s" % (self.name, self.log()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        return "".join(self.lines)

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()

    def terminate(self, timeout=30):
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None


class Cluster:
    def __init__(self, workers=2, spares=1, min_workers=1, oauth2_settings=None,
                 request_timeout_ms=15000, log_format="text", log_level="info",
                 worker_probes=False):
        """log_format/log_level: [log] of every process; worker_probes: each worker serves
        /healthz, /readyz and /metrics on cluster.probe_listen (probe_url(i))."""
        if not BIN or not WASM:
            raise RuntimeError("HABANERO_BIN and HABANERO_WASM_OUT must be set")
        self.tmp = tempfile.mkdtemp(prefix="habanero-cluster-")
        self.pg = PostgresServer().init().start_server()
        try:
            self.store_url = self.pg.create_database()
            self.kek = base64.b64encode(secrets.token_bytes(32)).decode()
            self.oauth2_settings = dict(oauth2_settings or {})
            self.min_workers = min_workers
            self.request_timeout_ms = request_timeout_ms
            self.log_format = log_format
            self.log_level = log_level
            self.worker_ports = [hi.free_port() for _ in range(workers + spares)]
            self.probe_ports = [hi.free_port() if worker_probes else None
                                for _ in range(workers + spares)]
            self.port = hi.free_port()
            self.issuer = "http://127.0.0.1:%d" % self.port
            self.workers = []
            for i, port in enumerate(self.worker_ports):
                self.workers.append(self._process("worker%d" % i, "worker", port,
                                                  self.probe_ports[i]))
            self.gateway = self._process("gateway", "gateway", None)
            for i in range(workers):
                self.start_worker(i)
            self.gateway.start("gateway is running")
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    # -- configuration ---------------------------------------------------------------------
    def _process(self, name, role, grpc_port, probe_port=None):
        data = os.path.join(self.tmp, name)
        os.makedirs(data, exist_ok=True)
        path = os.path.join(self.tmp, name + ".toml")
        settings = {"issuer": self.issuer}
        settings.update(self.oauth2_settings)
        t = "[server]\n"
        t += 'listen = "127.0.0.1:%d"\n' % (self.port if role == "gateway" else 0)
        t += "issuer = %s\n" % hi.toml_value(self.issuer)
        t += "data_dir = %s\n" % hi.toml_value(data)
        t += "shutdown_grace_ms = 5000\n"
        t += "[store]\nurl = %s\nstatement_timeout_ms = 3000\n" % hi.toml_value(self.store_url)
        t += "[keys]\nkek = %s\n" % hi.toml_value(self.kek)
        t += "[runtime]\nextension_dir = %s\nwatch_interval_ms = 0\n" % hi.toml_value(WASM)
        t += "[log]\nlevel = %s\nformat = %s\n" % (hi.toml_value(self.log_level),
                                                   hi.toml_value(self.log_format))
        t += "[cluster]\nrole = %s\n" % hi.toml_value(role)
        if role == "worker":
            t += 'listen = "127.0.0.1:%d"\n' % grpc_port
            if probe_port:
                t += 'probe_listen = "127.0.0.1:%d"\n' % probe_port
        else:
            t += "workers = %s\n" % hi.toml_value(
                " ".join("127.0.0.1:%d" % p for p in self.worker_ports))
            t += "health_interval_ms = 200\n"
            t += "min_workers = %d\n" % self.min_workers
            t += "request_timeout_ms = %d\n" % self.request_timeout_ms
        for name_, mount, s in (("oauth2", "/", settings), ("password", "/login/password", {})):
            t += "[[extensions]]\n"
            t += 'name = "%s"\nmodule = "%s.wasm"\nmount = "%s"\n' % (name_, name_, mount)
            t += "grants = %s\n" % hi.toml_value(hi.manifest_capabilities(name_))
            t += "deadline_ms = 5000\n"
            if s:
                t += "[extensions.settings]\n"
                for k, v in s.items():
                    t += "%s = %s\n" % (k, hi.toml_value(v))
        with open(path, "w") as f:
            f.write(t)
        return Process(name, path, data)

    # -- life cycle ------------------------------------------------------------------------
    def start_worker(self, i):
        self.workers[i].start("worker is running")

    def kill_worker(self, i):
        self.workers[i].kill()

    def wait_ready(self, timeout=60, healthy=None):
        """Waits until /readyz is 200 (and, if given, `healthy` workers are up)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = requests.get(self.issuer + "/readyz", timeout=5)
                if last.status_code == 200 and (healthy is None or self.healthy() == healthy):
                    return
            except requests.RequestException as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("cluster not ready: %r %s\n%s" % (
            last, getattr(last, "text", ""), self.log_tail()))

    def probe_url(self, i):
        """The base URL of worker i's probe listener (worker_probes=True)."""
        return "http://127.0.0.1:%d" % self.probe_ports[i]

    def readyz(self):
        return requests.get(self.issuer + "/readyz", timeout=5)

    def healthy(self):
        """Healthy workers as the gateway's /metrics reports them."""
        text = requests.get(self.issuer + "/metrics", timeout=5).text
        m = re.search(r"^habanero_gateway_workers_healthy (\d+)", text, re.M)
        return int(m.group(1)) if m else None

    def stop(self):
        for p in [getattr(self, "gateway", None)] + list(getattr(self, "workers", [])):
            if p:
                p.terminate(timeout=15)
        if getattr(self, "pg", None):
            self.pg.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the interop harness's interface ---------------------------------------------------
    @property
    def config(self):
        return self.gateway.config

    def log(self):
        parts = []
        for p in [self.gateway] + self.workers:
            if p.lines:
                parts.append("---- %s ----\n%s" % (p.name, p.log()))
        return "\n".join(parts)

    def log_tail(self, n=60):
        parts = []
        for p in [self.gateway] + self.workers:
            if p.lines:
                parts.append("---- %s ----\n%s" % (p.name, "".join(p.lines[-n:])))
        return "\n".join(parts)

    def cli(self, *args, input=None, check=True):
        """Runs `habanero <args> --config <the gateway's config>` (the shared store)."""
        out = subprocess.run([BIN, *args, "--config", self.config], input=input,
                             capture_output=True, text=True, timeout=120)
        if check and out.returncode != 0:
            raise AssertionError("habanero %s failed (%d):\n%s%s" % (
                " ".join(args), out.returncode, out.stdout, out.stderr))
        return out

    def add_user(self, email, password, name=None):
        args = ["user", "add", "--email", email, "--password-stdin"]
        if name:
            args += ["--name", name]
        return self.cli(*args, input=password + "\n")

    def _reloads(self):
        return sum(1 for line in list(self.gateway.lines) if "worker(s) reloaded" in line)

    def add_client(self, client_id, secret=None, public=False,
                   redirect_uris=(hi.REDIRECT_URI,),
                   grant_types=("authorization_code", "refresh_token"),
                   scopes="openid profile email offline_access", name=None):
        """Registers a client with the CLI; returns its secret (given or generated). The CLI
        signals the gateway (SIGHUP), which has its workers reload: this waits for that."""
        before = self._reloads()
        args = ["client", "add", "--id", client_id]
        if public:
            args.append("--public")
        elif secret:
            args += ["--secret", secret]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        args += ["--grant-types", ",".join(grant_types), "--scopes", scopes,
                 "--name", name or client_id]
        out = self.cli(*args)
        if not public and not secret:
            m = re.search(r"secret\S*\s*[:=]?\s*([A-Za-z0-9_\-.~+/=]{32,})", out.stdout, re.I)
            if not m:
                raise AssertionError("no generated secret in `client add` output:\n" + out.stdout)
            secret = m.group(1)
        deadline = time.time() + 60
        while self._reloads() == before:
            if time.time() > deadline:
                raise AssertionError("the gateway did not reload its workers:\n" + self.log_tail())
            time.sleep(0.05)
        return secret

    def discovery(self):
        r = requests.get(self.issuer + "/.well-known/openid-configuration", timeout=10)
        r.raise_for_status()
        return r.json()
