#!/usr/bin/env python3
"""Side-by-side benchmark: Habanero, node-oidc-provider, Keycloak, Ory Hydra and an nginx floor
(issues 7 and 12).

Run through scripts/bench-peers.sh (which `make bench` calls after the Google Benchmark part);
docs/performance.md explains the set-up and the figures. Needs what
scripts/setup-bench-peers.sh installs; charts need matplotlib (the venv it creates).

    python bench/compare.py --build build-bench --cache ~/.cache/habanero/bench

Everything listens on 127.0.0.1 on free ports, in a temporary directory removed at exit. The
servers run side by side for the whole comparison; each measured run is interleaved with the
other servers' (the order rotates every repetition), and medians over repetitions are what
counts. Writes bench/results/<UTC timestamp>.json, a copy as
docs/img/comparison-latest.json, and docs/img/comparison-*.png.

Environment (all optional):
  BENCH_QUICK=1            short runs: 1 repetition of 3 s, 200,000-request RSS run
  BENCH_REPS               repetitions (3)
  BENCH_SECONDS            seconds per measured run (8); BENCH_WARMUP seconds per warm-up (3)
  BENCH_THREADS BENCH_CONNECTIONS   wrk -t/-c (2, 32)
  BENCH_FLOW_CONNECTIONS   concurrent authorization-code sequences (8)
  BENCH_SERVERS            comma list of habanero,habanero-postgres,node-oidc-provider,keycloak,
                           hydra,nginx (all by default)
  BENCH_CLUSTER=0          skip the gateway/worker runs (they need habanero-postgres)
  BENCH_RSS_REQUESTS       requests of the RSS-growth run (1,000,000; quick: 200,000)
  BENCH_SKIP_TARGETS=1     skip the Habanero-only runs (paced p99, RSS growth, start time)
"""

import argparse
import atexit
import base64
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVERS = ["habanero", "habanero-postgres", "node-oidc-provider", "keycloak", "hydra", "nginx"]
# client_credentials_chosen: the same request from a client whose secret the operator chose
# (Habanero keeps it as an Argon2id hash; a verified secret is then checked against an
# in-memory HMAC). The peers make no such distinction, so their row is their
# client_credentials run (ratios compare against it).
SCENARIOS = ["client_credentials", "client_credentials_chosen", "refresh_token", "introspection",
             "authorization_code"]
PEERS = ["habanero-postgres", "node-oidc-provider", "keycloak", "hydra", "nginx"]
CHOSEN_SECRET = "bench-chosen-" + secrets.token_urlsafe(16)
TICKS = os.sysconf("SC_CLK_TCK")
USER_EMAIL = "bench@example.com"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def log(*a):
    print(">>", *a, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- /proc ------------------------------------------------------------------------

def tree(root_pid):
    """root_pid and all its descendants that are alive now."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root_pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(root_pid):
    """utime + stime of the process tree, seconds (threads included; exited children not)."""
    total = 0
    for p in tree(root_pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / TICKS


def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_kib(root_pid, field):
    return sum(status_kib(p, field) for p in tree(root_pid))


# ---- HTTP helpers -------------------------------------------------------------------

def http(method, url, body=None, basic=None, timeout=10):
    req = urllib.request.Request(url, method=method,
                                 data=body.encode() if body is not None else None)
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    if basic:
        cred = ":".join(urllib.parse.quote(x, safe="") for x in basic)
        req.add_header("Authorization", "Basic " + base64.b64encode(cred.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def http_json(method, url, body):
    req = urllib.request.Request(url, method=method, data=body.encode())
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def wait_http(url, proc, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {seconds} s")


def jwt_header(token):
    seg = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


# ---- the servers ---------------------------------------------------------------------

class Server:
    name = ""
    proc = None
    log_path = ""

    def stop(self):
        """SIGTERM to the server's process group (kc.sh's java child included), SIGKILL to
        whatever is left of the group after 30 s."""
        if not self.proc:
            return
        pgid = self.proc.pid  # start_new_session: the group is ours alone
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.time() + 30
        while time.time() < deadline:
            self.proc.poll()
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc = None

    def spawn(self, cmd, cwd=None, env=None):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    # Set by start(): endpoints, request bodies.
    token_url = introspect_url = issuer = ""
    cc_body = "grant_type=client_credentials&scope=read"
    introspect_token = ""
    flow_args = []


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("HABANERO_")}


class Habanero(Server):
    name = "habanero"

    def __init__(self, build, tmp, password):
        self.bin = os.path.join(build, "src/cli/habanero")
        self.data = os.path.join(tmp, "habanero-data")
        self.log_path = os.path.join(tmp, "habanero.log")
        self.password = password

    def provision(self):
        """A confidential client with a generated secret (stored as SHA-256, as for any
        generated secret; an operator-chosen one is Argon2id-hashed) and one user."""
        out = subprocess.run(
            [self.bin, "client", "add", "--data-dir", self.data, "--id", "bench", "--name", "Bench",
             "--grant-types", "client_credentials,authorization_code,refresh_token",
             "--scopes", "openid profile email offline_access read", "--first-party",
             "--redirect-uri", "http://127.0.0.1/callback"],
            env=clean_env(), capture_output=True, text=True, check=True).stdout
        secret = re.search(r"^client_secret: *(\S+)$", out, re.M).group(1)
        subprocess.run(
            [self.bin, "client", "add", "--data-dir", self.data, "--id", "bench-chosen",
             "--name", "Bench (operator-chosen secret)", "--grant-types", "client_credentials",
             "--scopes", "read", "--secret", CHOSEN_SECRET],
            env=clean_env(), capture_output=True, text=True, check=True)
        subprocess.run([self.bin, "user", "add", "--data-dir", self.data, "--email", USER_EMAIL,
                        "--name", "Bench", "--password-stdin"], input=self.password + "\n",
                       env=clean_env(), capture_output=True, text=True, check=True)
        return secret

    def command(self, port):
        return [self.bin, "serve", "--data-dir", self.data, "--listen", f"127.0.0.1:{port}",
                "--issuer", f"http://127.0.0.1:{port}"]

    def start(self, secret, env=None):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.spawn(self.command(self.port), env={**clean_env(), **(env or {})})
        wait_http(self.issuer + "/healthz", self.proc, 60, self.name)
        self.token_url, self.introspect_url = self.issuer + "/token", self.issuer + "/introspect"


class HabaneroPostgres(Habanero):
    """Habanero with its store on PostgreSQL 15 (Debian's, on this machine; fsync and
    synchronous_commit on), holding a copy of the SQLite server's data (`habanero store
    copy`): the same client, secret and user."""
    name = "habanero-postgres"

    def __init__(self, build, tmp, password, source):
        super().__init__(build, tmp, password)
        self.data = os.path.join(tmp, "habanero-pg-data")
        self.log_path = os.path.join(tmp, "habanero-postgres.log")
        self.source = source
        self.pg = None
        self.env = {}

    def start(self, secret, env=None):
        if self.pg is None:
            sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
            import postgres_server
            self.pg = postgres_server.PostgresServer().init().start_server(durable=True)
            atexit.register(self.pg.destroy)
            url = self.pg.create_database()
            self.env = {"HABANERO_STORE_URL": url,
                        "HABANERO_KEYS_KEK_FILE": os.path.join(self.source.data, "kek")}
            subprocess.run([self.bin, "store", "copy", "--from", self.source.data, "--to", url],
                           env=clean_env(), capture_output=True, text=True, check=True)
        super().start(secret, env={**self.env, **(env or {})})


class NodeOidcProvider(Server):
    name = "node-oidc-provider"

    def __init__(self, cache, tmp, password):
        self.dir = os.path.join(cache, "node-oidc-provider")
        self.log_path = os.path.join(tmp, "node-oidc-provider.log")
        self.password = password
        self.flow_args = ["-prompt", "consent"]  # offline_access needs it in oidc-provider

    def start(self, secret):
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.spawn(["node", "server.mjs", str(self.port), secret, USER_EMAIL, self.password],
                   cwd=self.dir, env={**os.environ, "NODE_ENV": "production"})
        wait_http(self.issuer + "/.well-known/openid-configuration", self.proc, 60, self.name)
        self.token_url = self.issuer + "/token"
        self.introspect_url = self.issuer + "/token/introspection"


class Keycloak(Server):
    name = "keycloak"

    def __init__(self, cache, tmp, password):
        dirs = sorted(d for d in os.listdir(cache) if d.startswith("keycloak-")
                      and os.path.isdir(os.path.join(cache, d)))
        if not dirs:
            raise RuntimeError("Keycloak is not installed (scripts/setup-bench-peers.sh)")
        self.home = os.path.join(cache, dirs[-1])
        self.version = dirs[-1].split("-", 1)[1]
        self.log_path = os.path.join(tmp, "keycloak.log")
        self.password = password
        self.cc_body = "grant_type=client_credentials"  # no "read" scope defined in the realm

    def start(self, secret):
        # A fresh embedded database each run; the realm is imported at start.
        shutil.rmtree(os.path.join(self.home, "data", "h2"), ignore_errors=True)
        imp = os.path.join(self.home, "data", "import")
        os.makedirs(imp, exist_ok=True)
        realm = open(os.path.join(ROOT, "bench/peers/keycloak/realm-bench.json")).read()
        realm = (realm.replace("@CLIENT_SECRET@", secret).replace("@USER_EMAIL@", USER_EMAIL)
                 .replace("@USER_PASSWORD@", self.password))
        with open(os.path.join(imp, "realm-bench.json"), "w") as f:
            f.write(realm)
        self.port, mgmt = free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/realms/bench"
        self.spawn([os.path.join(self.home, "bin/kc.sh"), "start", "--optimized",
                    "--http-enabled=true", "--http-host=127.0.0.1", f"--http-port={self.port}",
                    f"--http-management-port={mgmt}", "--hostname-strict=false",
                    "--import-realm", "--log-level=warn"])
        wait_http(self.issuer + "/.well-known/openid-configuration", self.proc, 300, self.name)
        self.token_url = self.issuer + "/protocol/openid-connect/token"
        self.introspect_url = self.issuer + "/protocol/openid-connect/token/introspect"


class Hydra(Server):
    """Ory Hydra v2 (`serve all --dev`: plain HTTP on loopback), `dsn: memory`, JWT access
    tokens signed with an ES256 key created through its admin API before the first token,
    client secrets hashed with its default (PBKDF2-SHA256, 25,000 iterations), and
    bench/peers/hydra as its login and consent app (Argon2id with Habanero's parameters).
    The app runs in the same process group, so its CPU counts as Hydra's."""
    name = "hydra"

    def __init__(self, cache, tmp, password):
        dirs = sorted(d for d in os.listdir(cache) if d.startswith("hydra-v")
                      and os.path.isfile(os.path.join(cache, d, "hydra")))
        if not dirs:
            raise RuntimeError("Hydra is not installed (scripts/setup-bench-peers.sh)")
        self.bin = os.path.join(cache, dirs[-1], "hydra")
        self.version = dirs[-1].split("-")[1]
        self.app = os.path.join(cache, "bin/hydra-login-consent")
        self.dir = os.path.join(tmp, "hydra")
        self.log_path = os.path.join(tmp, "hydra.log")
        self.password = password

    def start(self, secret):
        os.makedirs(self.dir, exist_ok=True)
        self.port, self.admin_port, app_port = free_port(), free_port(), free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        admin = f"http://127.0.0.1:{self.admin_port}"
        app = f"http://127.0.0.1:{app_port}"
        conf = os.path.join(self.dir, "hydra.yml")
        # Not `dsn: memory`: that shared-cache in-memory SQLite answers 500 to concurrent
        # authorization-code exchanges ("table is locked"), and a SQLite file fails the
        # same way ("database is locked"). Hydra runs on PostgreSQL 15, its production
        # store, started like habanero-postgres's (fsync and synchronous_commit on).
        if getattr(self, "pg", None) is None:
            sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
            import postgres_server
            self.pg = postgres_server.PostgresServer().init().start_server(durable=True)
            atexit.register(self.pg.destroy)
            url = self.pg.create_database()
            # Hydra's default pool (2 × cores = 4 here) deadlocks under 8 concurrent
            # token requests (a request holds one connection and waits for another):
            # 1 request in 3 s was measured. A pool larger than the load's concurrency.
            self.dsn = (url + ("&" if "?" in url else "?") +
                        "sslmode=disable&max_conns=64&max_idle_conns=64")
        mig = subprocess.run([self.bin, "migrate", "sql", "up", "--yes", self.dsn],
                             capture_output=True, text=True)
        if mig.returncode != 0:
            raise RuntimeError(f"hydra migrate: {mig.stderr[-500:]}")
        with open(conf, "w") as f:
            f.write(f"""dsn: "{self.dsn}"
serve:
  public: {{host: 127.0.0.1, port: {self.port}}}
  admin: {{host: 127.0.0.1, port: {self.admin_port}}}
urls:
  self: {{issuer: {self.issuer}}}
  login: {app}/login
  consent: {app}/consent
secrets:
  system: ["{secrets.token_urlsafe(32)}"]
strategies:
  access_token: jwt
log: {{level: error}}
""")
        script = (f'"{self.app}" -listen 127.0.0.1:{app_port} -admin {admin} '
                  f'-user "$1" -password "$2" & exec "{self.bin}" serve all --dev --config "{conf}"')
        self.spawn(["bash", "-c", f"{script}", "hydra", USER_EMAIL, self.password])
        wait_http(admin + "/health/ready", self.proc, 60, self.name)
        wait_http(app + "/healthz", self.proc, 30, self.name + " login app")
        body = json.dumps({"alg": "ES256", "kid": "bench-es256", "use": "sig"})
        for path, data in (("/admin/keys/hydra.jwt.access-token", body),
                           ("/admin/keys/hydra.openid.id-token", body.replace("bench-es256", "bench-id"))):
            st, out = http_json("POST", admin + path, data)
            if st not in (200, 201):
                raise RuntimeError(f"hydra: creating key set {path}: {st} {out[:300]}")
        client = {"client_id": "bench", "client_secret": secret, "client_name": "Bench",
                  "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
                  "response_types": ["code"], "scope": "openid profile email offline_access read",
                  "redirect_uris": ["http://127.0.0.1/callback"],
                  "token_endpoint_auth_method": "client_secret_basic",
                  "access_token_strategy": "jwt", "skip_consent": True}
        st, out = http_json("POST", admin + "/admin/clients", json.dumps(client))
        if st not in (200, 201):
            raise RuntimeError(f"hydra: creating the client: {st} {out[:300]}")
        self.token_url = self.issuer + "/oauth2/token"
        self.introspect_url = admin + "/admin/oauth2/introspect"


class NginxFloor(Server):
    """nginx answering POST /token, /refresh and /introspect with fixed bodies the size of
    Habanero's answers: the most any HTTP endpoint can do on this box."""
    name = "nginx"

    def __init__(self, tmp, bodies):
        self.dir = os.path.join(tmp, "nginx")
        self.log_path = os.path.join(tmp, "nginx.log")
        self.bodies = bodies  # scenario path -> body

    def start(self, secret):
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        self.port = free_port()
        locs = "".join(
            f"    location = {path} {{ default_type application/json; "
            f"add_header Cache-Control no-store; return 200 '{body.replace(chr(39), '')}'; }}\n"
            for path, body in self.bodies.items())
        conf = f"""worker_processes 2;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{self.port};
{locs}  }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.spawn([nginx, "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf"),
                    "-e", os.path.join(self.dir, "logs/error.log")])
        self.issuer = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if http("POST", self.issuer + "/token", "x")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        self.token_url = self.issuer + "/token"
        self.introspect_url = self.issuer + "/introspect"


# ---- load ------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
        self.quick = quick
        self.reps = env_int("BENCH_REPS", 1 if quick else 3)
        self.seconds = env_int("BENCH_SECONDS", 3 if quick else 8)
        self.warmup = env_int("BENCH_WARMUP", 1 if quick else 3)
        self.threads = env_int("BENCH_THREADS", 2)
        self.conns = env_int("BENCH_CONNECTIONS", 32)
        self.flow_conns = env_int("BENCH_FLOW_CONNECTIONS", 8)
        self.rss_requests = env_int("BENCH_RSS_REQUESTS", 200_000 if quick else 1_000_000)
        self.servers = [s for s in os.environ.get("BENCH_SERVERS", ",".join(SERVERS)).split(",") if s]
        self.loadgen = os.path.join(args.cache, "bin/loadgen")
        self.tmp = tempfile.mkdtemp(prefix="habanero-compare.")
        self.password = "bench-" + secrets.token_urlsafe(12)
        self.commands = {}

    # One wrk run; returns its HABANERO_WRK figures.
    def wrk(self, script, url, script_args, seconds):
        cmd = ["wrk", f"-t{self.threads}", f"-c{self.conns}", f"-d{seconds}s", "--latency",
               "-s", os.path.join(ROOT, "bench", script), url, "--", *script_args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
        line = [l for l in out.splitlines() if l.startswith("HABANERO_WRK ")]
        if not line:
            raise RuntimeError(f"wrk printed no figures: {out[-500:]}")
        return json.loads(line[0][len("HABANERO_WRK "):])

    def loadgen_run(self, mode, *flags, timeout=600):
        out = subprocess.run([self.loadgen, mode, *flags], capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"loadgen {mode}: {out.stderr.strip()[-500:]}")
        return out.stdout

    def flow_flags(self, srv):
        return ["-issuer", srv.issuer, "-client", "bench", "-secret", self.secret,
                "-user", USER_EMAIL, "-password", self.password, *srv.flow_args]

    def seed_refresh(self, srv, n):
        out = self.loadgen_run("seed", *self.flow_flags(srv), "-n", str(n), "-c", "4")
        path = os.path.join(self.tmp, f"refresh-{srv.name}.txt")
        with open(path, "w") as f:
            f.write(out)
        return path

    def run_one(self, srv, scenario, seconds):
        """One run of a scenario against a server: load figures + server CPU and memory."""
        basic = ["bench", self.secret]
        if scenario == "refresh_token" and srv.name != "nginx":
            tokens = self.seed_refresh(srv, self.conns + 8)
        cpu0 = cpu_seconds(srv.pid)
        if srv.name == "nginx":
            path = {"client_credentials": "/token", "refresh_token": "/refresh",
                    "introspection": "/introspect"}[scenario]
            w = self.wrk("wrk_post.lua", srv.issuer + path, [*basic, "grant_type=x"], seconds)
        elif scenario == "client_credentials":
            w = self.wrk("wrk_post.lua", srv.token_url, [*basic, srv.cc_body], seconds)
        elif scenario == "client_credentials_chosen":
            w = self.wrk("wrk_post.lua", srv.token_url, ["bench-chosen", CHOSEN_SECRET, srv.cc_body],
                         seconds)
        elif scenario == "refresh_token":
            w = self.wrk("wrk_refresh.lua", srv.token_url, [*basic, tokens, str(self.threads)],
                         seconds)
        elif scenario == "introspection":
            body = "token=" + urllib.parse.quote(srv.introspect_token, safe="")
            w = self.wrk("wrk_post.lua", srv.introspect_url, [*basic, body], seconds)
        else:
            w = json.loads(self.loadgen_run("flow", *self.flow_flags(srv), "-c",
                                            str(self.flow_conns), "-d", f"{seconds}s"))
        cpu = cpu_seconds(srv.pid) - cpu0
        errors = sum((w.get("errors") or {}).values())
        r = {
            "requests": w["requests"],
            "requests_per_s": round(w["requests_per_s"], 1),
            "p50_ms": w["latency_us"].get("p50", 0) / 1000,
            "p99_ms": w["latency_us"].get("p99", 0) / 1000,
            "cpu_s": round(cpu, 3),
            "cpu_s_per_1000": round(1000 * cpu / max(w["requests"], 1), 4),
            "errors": errors,
            "peak_rss_kib": tree_kib(srv.pid, "VmHWM"),
            "rss_kib": tree_kib(srv.pid, "VmRSS"),
        }
        if scenario == "authorization_code":
            r["sequences"] = w.get("sequences", 0)
            r["sequences_per_s"] = round(w.get("sequences_per_s", 0), 2)
            r["cpu_s_per_1000_sequences"] = round(1000 * cpu / max(w.get("sequences", 0), 1), 3)
            if w.get("first_error"):
                r["first_error"] = w["first_error"]
        return r

    # ---- checks before load ----
    def check(self, srv):
        """One request of each kind by hand; fills srv.introspect_token."""
        if srv.name == "nginx":
            return {}
        st, body = http("POST", srv.token_url, srv.cc_body, ("bench", self.secret))
        if st != 200:
            raise RuntimeError(f"{srv.name}: client_credentials {st}: {body[:300]}")
        tok = json.loads(body)
        hdr = jwt_header(tok["access_token"])
        if hdr.get("alg") != "ES256":
            raise RuntimeError(f"{srv.name}: access token is not ES256: {hdr}")
        info = {"access_token_header": hdr, "token_response_bytes": len(body),
                "access_token_bytes": len(tok["access_token"])}
        if srv.name == "node-oidc-provider":
            # oidc-provider refuses to introspect JWT access tokens ("Structured JWT Tokens
            # cannot be introspected"): introspect one of its (opaque) refresh tokens instead.
            srv.introspect_token = open(self.seed_refresh(srv, 1)).read().split()[0]
            info["introspected"] = "refresh token (opaque)"
        else:
            srv.introspect_token = tok["access_token"]
            info["introspected"] = "client_credentials access token (JWT)"
        st, body = http("POST", srv.introspect_url,
                        "token=" + urllib.parse.quote(srv.introspect_token, safe=""),
                        ("bench", self.secret))
        if st != 200 or json.loads(body).get("active") is not True:
            raise RuntimeError(f"{srv.name}: introspection {st}: {body[:300]}")
        info["introspection_response_bytes"] = len(body)
        # One refresh with rotation, one full authorization-code sequence.
        rt = open(self.seed_refresh(srv, 1)).read().split()[0]
        st, body = http("POST", srv.token_url,
                        "grant_type=refresh_token&refresh_token=" + urllib.parse.quote(rt, safe=""),
                        ("bench", self.secret))
        if st != 200 or not json.loads(body).get("refresh_token"):
            raise RuntimeError(f"{srv.name}: refresh {st}: {body[:300]}")
        info["refresh_response_bytes"] = len(body)
        if srv.name == "habanero":
            self.refresh_body = body
        st2, _ = http("POST", srv.token_url,
                      "grant_type=refresh_token&refresh_token=" + urllib.parse.quote(rt, safe=""),
                      ("bench", self.secret))
        info["refresh_reuse_refused"] = st2 != 200
        return info

    # ---- the comparison ----
    def compare(self):
        args = self.args
        hab = Habanero(args.build, self.tmp, self.password)
        self.secret = hab.provision()
        servers = {"habanero": hab}
        if "habanero-postgres" in self.servers:
            servers["habanero-postgres"] = HabaneroPostgres(args.build, self.tmp, self.password, hab)
        if "node-oidc-provider" in self.servers:
            servers["node-oidc-provider"] = NodeOidcProvider(args.cache, self.tmp, self.password)
        if "keycloak" in self.servers:
            servers["keycloak"] = Keycloak(args.cache, self.tmp, self.password)
        if "hydra" in self.servers:
            servers["hydra"] = Hydra(args.cache, self.tmp, self.password)
        self.all = servers
        log("starting habanero")
        hab.start(self.secret)
        # The floor's bodies are Habanero's own answers (same sizes).
        st, cc_body = http("POST", hab.token_url, hab.cc_body, ("bench", self.secret))
        self.checks = {"habanero": self.check(hab)}
        st, intro_body = http("POST", hab.introspect_url,
                              "token=" + urllib.parse.quote(hab.introspect_token, safe=""),
                              ("bench", self.secret))
        if "nginx" in self.servers:
            servers["nginx"] = NginxFloor(self.tmp, {"/token": cc_body, "/refresh": self.refresh_body,
                                                     "/introspect": intro_body})
        idle = {"habanero": tree_kib(hab.pid, "VmRSS")}
        for name, srv in servers.items():
            if name == "habanero":
                continue
            log(f"starting {name}")
            t0 = time.time()
            srv.start(self.secret)
            self.checks[name] = self.check(srv)
            self.checks[name]["start_s"] = round(time.time() - t0, 1)
            idle[name] = tree_kib(srv.pid, "VmRSS")
        self.commands["servers"] = {
            "habanero": " ".join(hab.command("PORT")),
            "habanero-postgres": " ".join(hab.command("PORT")) + "  (HABANERO_STORE_URL=postgres://… "
                                 "on PostgreSQL 15, fsync/synchronous_commit on; data by "
                                 "`habanero store copy`)",
            "node-oidc-provider": "node server.mjs PORT SECRET EMAIL PASSWORD  (cwd: CACHE/node-oidc-provider)",
            "keycloak": "kc.sh start --optimized --http-enabled=true --http-host=127.0.0.1 "
                        "--http-port=PORT --http-management-port=PORT2 --hostname-strict=false "
                        "--import-realm --log-level=warn  (built with --db=dev-file --health-enabled=true)",
            "hydra": "hydra serve all --dev --config TMP/hydra.yml  (dsn: memory; strategies.access_token: "
                     "jwt; ES256 key sets created via the admin API; PBKDF2-SHA256 client-secret hashing, "
                     "its default) + hydra-login-consent (bench/peers/hydra)",
            "nginx": "nginx -p TMP -c TMP/nginx.conf  (worker_processes 2; return 200 'BODY')",
        }
        self.commands["load"] = {
            "client_credentials": f"wrk -t{self.threads} -c{self.conns} -d{self.seconds}s --latency "
                                  "-s bench/wrk_post.lua TOKEN_URL -- bench SECRET 'grant_type=client_credentials&scope=read'",
            "client_credentials_chosen": f"wrk -t{self.threads} -c{self.conns} -d{self.seconds}s --latency "
                                         "-s bench/wrk_post.lua TOKEN_URL -- bench-chosen CHOSEN_SECRET "
                                         "'grant_type=client_credentials&scope=read'  (Habanero only)",
            "refresh_token": f"loadgen seed ... -n {self.conns + 8}; wrk -t{self.threads} -c{self.conns} "
                             f"-d{self.seconds}s --latency -s bench/wrk_refresh.lua TOKEN_URL -- bench SECRET TOKENS {self.threads}",
            "introspection": f"wrk -t{self.threads} -c{self.conns} -d{self.seconds}s --latency "
                             "-s bench/wrk_post.lua INTROSPECTION_URL -- bench SECRET token=TOKEN",
            "authorization_code": f"loadgen flow -issuer ISSUER -client bench -secret SECRET -user EMAIL "
                                  f"-password PASSWORD -c {self.flow_conns} -d {self.seconds}s",
        }

        names = [n for n in SERVERS if n in servers]
        def scen(n):
            out = [s for s in SCENARIOS if not (n == "nginx" and s == "authorization_code")]
            if not n.startswith("habanero"):
                out.remove("client_credentials_chosen")
            return out
        log(f"warm-up ({self.warmup} s per server and scenario)")
        for s in SCENARIOS:
            for n in names:
                if s in scen(n):
                    self.run_one(servers[n], s, self.warmup)
        runs = {n: {s: [] for s in scen(n)} for n in names}
        for rep in range(self.reps):
            order = names[rep % len(names):] + names[:rep % len(names)]
            for s in SCENARIOS:
                for n in order:
                    if s not in scen(n):
                        continue
                    r = self.run_one(servers[n], s, self.seconds)
                    runs[n][s].append(r)
                    log(f"rep {rep + 1}/{self.reps} {s:18s} {n:18s} {r['requests_per_s']:>9,.0f} req/s "
                        f"p50 {r['p50_ms']:.2f} ms p99 {r['p99_ms']:.2f} ms "
                        f"cpu/1000 {r['cpu_s_per_1000']:.3f} s errors {r['errors']}")
        self.runs = runs
        self.idle = idle
        self.peak = {n: tree_kib(servers[n].pid, "VmHWM") for n in names}
        return servers

    # ---- Habanero-only targets ----
    def targets_runs(self, servers, peak_rps):
        hab = servers["habanero"]
        out = {}
        # p99 at half the peak client_credentials rate, open loop (bench/loadgen rate), with
        # the nginx floor paced at the same rate in between: what the machine and the load
        # generator alone add to the tail.
        rate = max(peak_rps / 2, 1)
        secs = self.seconds if self.quick else max(self.seconds, 10)
        floor = servers.get("nginx")
        for n, srv in servers.items():
            if n not in ("habanero", "nginx"):
                srv.stop()

        def flags(srv, url, body):
            return ["-url", url, "-basic", f"bench:{self.secret}", "-body", body,
                    "-c", str(self.conns), "-rate", str(rate)]
        hab_flags = flags(hab, hab.token_url, hab.cc_body)
        self.loadgen_run("rate", *hab_flags, "-d", "2s")  # warm-up
        paced, paced_floor = [], []
        for _ in range(self.reps):
            cpu0 = cpu_seconds(hab.pid)
            r = json.loads(self.loadgen_run("rate", *hab_flags, "-d", f"{secs}s"))
            r["cpu_s"] = round(cpu_seconds(hab.pid) - cpu0, 3)
            paced.append(r)
            log(f"paced {rate:,.0f} req/s habanero: achieved {r['requests_per_s']:,.0f}, "
                f"p50 {r['latency_us']['p50'] / 1000:.2f} ms p99 {r['latency_us']['p99'] / 1000:.2f} ms")
            if floor:
                f = json.loads(self.loadgen_run("rate", *flags(floor, floor.token_url, "x"),
                                                "-d", f"{secs}s"))
                paced_floor.append(f)
                log(f"paced {rate:,.0f} req/s nginx:    achieved {f['requests_per_s']:,.0f}, "
                    f"p50 {f['latency_us']['p50'] / 1000:.2f} ms p99 {f['latency_us']['p99'] / 1000:.2f} ms")
        out["paced"] = {"rate": round(rate, 1), "seconds": secs, "runs": paced,
                        "p99_ms_median": statistics.median(r["latency_us"]["p99"] for r in paced) / 1000,
                        "p50_ms_median": statistics.median(r["latency_us"]["p50"] for r in paced) / 1000,
                        "command": f"loadgen rate -url TOKEN_URL -basic bench:SECRET -body "
                                   f"'{hab.cc_body}' -c {self.conns} -rate {rate:.0f} -d {secs}s"}
        if paced_floor:
            out["paced_floor"] = {
                "runs": paced_floor,
                "p99_ms_median": statistics.median(r["latency_us"]["p99"] for r in paced_floor) / 1000,
                "p50_ms_median": statistics.median(r["latency_us"]["p50"] for r in paced_floor) / 1000}
        if floor:
            floor.stop()
        hab.stop()

        # Refresh with the store's other durability setting (SQLite synchronous=NORMAL: a
        # commit is durable against a crash of the process, not of the machine): how much of
        # the refresh cost is the fsync of each commit.
        hab.start(self.secret, env={"HABANERO_STORE_SYNCHRONOUS": "normal"})
        self.run_one(hab, "refresh_token", self.warmup)
        normal = [self.run_one(hab, "refresh_token", self.seconds) for _ in range(self.reps)]
        out["refresh_synchronous_normal"] = {
            "runs": normal, "requests_per_s": med(normal, "requests_per_s"),
            "p99_ms": med(normal, "p99_ms"), "cpu_s_per_1000": med(normal, "cpu_s_per_1000"),
            "env": "HABANERO_STORE_SYNCHRONOUS=normal"}
        log(f"refresh with synchronous=normal: {out['refresh_synchronous_normal']['requests_per_s']:,.0f} req/s")
        hab.stop()

        # Start to first 200, warm module cache (the data directory has been served before).
        starts = []
        for _ in range(5):
            port = free_port()
            url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
            t0 = time.monotonic()
            hab.spawn(hab.command(port), env=clean_env())
            ms = None
            while time.monotonic() - t0 < 30:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                        s.sendall(f"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                  "Connection: close\r\n\r\n".encode())
                        if s.recv(64).startswith(b"HTTP/1.1 200"):
                            ms = (time.monotonic() - t0) * 1000
                            break
                except OSError:
                    time.sleep(0.001)
            starts.append(round(ms, 1) if ms is not None else None)
            time.sleep(2)
            if len(starts) == 1:
                out["idle_rss_kib"] = status_kib(hab.pid, "VmRSS")  # fresh process, 2 s idle
                out["idle_rss_note"] = "fresh start, one discovery request, 2 s idle"
            hab.stop()
        log(f"start to first 200 (ms): {starts}; idle RSS {out['idle_rss_kib'] / 1024:.1f} MiB")
        ok = [s for s in starts if s is not None]
        out["start_ms"] = {"runs": starts, "median": statistics.median(ok) if ok else None,
                           "url": "/.well-known/openid-configuration"}

        # RSS growth: a fresh process, then wrk runs of 5 s back to back (client_credentials)
        # until N requests have been answered; RSS after each run. Compared: the first
        # checkpoint at or past N/10 requests with the last one (at or past N).
        n = self.rss_requests
        hab.start(self.secret)
        rss0 = status_kib(hab.pid, "VmRSS")
        log(f"RSS growth: {n:,} token requests")
        done, points, errors, t0 = 0, [], 0, time.time()
        while done < n:
            w = self.wrk("wrk_post.lua", hab.token_url, ["bench", self.secret, hab.cc_body], 5)
            done += w["requests"]
            errors += sum(w["errors"].values())
            points.append({"requests": done, "rss_kib": status_kib(hab.pid, "VmRSS"),
                           "hwm_kib": status_kib(hab.pid, "VmHWM"),
                           "elapsed_s": round(time.time() - t0, 1)})
        first = next(p for p in points if p["requests"] >= n // 10)
        last = points[-1]
        out["rss_growth"] = {"requests": done, "rss_at_start_kib": rss0, "checkpoints": points,
                             "first": first, "last": last, "errors": errors,
                             "requests_per_s": round(done / (time.time() - t0), 1),
                             "growth_last_vs_first": round(last["rss_kib"] / first["rss_kib"] - 1, 4)}
        log(f"RSS after {first['requests']:,}: {first['rss_kib'] / 1024:.1f} MiB; after "
            f"{last['requests']:,}: {last['rss_kib'] / 1024:.1f} MiB")
        hab.stop()
        return out


class ClusterProcess(Habanero):
    """One `habanero serve` of a gateway/worker cluster on the PostgreSQL store."""

    def __init__(self, build, tmp, password, name, env):
        super().__init__(build, tmp, password)
        self.name = name
        self.data = os.path.join(tmp, name + "-data")
        self.log_path = os.path.join(tmp, name + ".log")
        self.cluster_env = env

    def start_as(self, port):
        os.makedirs(self.data, exist_ok=True)
        self.spawn(self.command(port), env={**clean_env(), **self.cluster_env})


def cluster_runs(b, pg_server, all_cpu_us):
    """Issue 14's cluster figures: one gateway with one, then two workers, all on the
    PostgreSQL store the habanero-postgres run used; client_credentials through the gateway.
    CPU is read per process; the gateway's added CPU is (gateway + workers) per request minus
    what `--role all` on the same store spent per request (all_cpu_us)."""
    out = {"runs": {}}
    port = free_port()
    wports = [free_port(), free_port()]
    base = dict(pg_server.env)
    gw = ClusterProcess(b.args.build, b.tmp, b.password, "gateway", {
        **base, "HABANERO_CLUSTER_ROLE": "gateway",
        "HABANERO_CLUSTER_WORKERS": " ".join(f"127.0.0.1:{p}" for p in wports)})
    workers = [ClusterProcess(b.args.build, b.tmp, b.password, f"worker{i}", {
        **base, "HABANERO_CLUSTER_ROLE": "worker", "HABANERO_CLUSTER_LISTEN": f"127.0.0.1:{p}"})
        for i, p in enumerate(wports)]
    issuer = f"http://127.0.0.1:{port}"
    try:
        for w in workers:
            w.start_as(port)
        gw.start_as(port)
        wait_http(issuer + "/readyz", gw.proc, 60, "gateway")
        for n in (1, 2):
            if n == 1:
                workers[1].stop()
            else:
                workers[1].start_as(port)
            deadline = time.time() + 30
            while time.time() < deadline:
                st, text = http("GET", issuer + "/metrics")
                m = re.search(r"^habanero_gateway_workers_healthy (\d+)", text, re.M)
                if m and int(m.group(1)) == n:
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError(f"gateway: {n} healthy workers not reported within 30 s")
            live = [workers[0]] + ([workers[1]] if n == 2 else [])
            url = issuer + "/token"
            b.wrk("wrk_post.lua", url, ["bench", b.secret, "grant_type=client_credentials&scope=read"],
                  b.warmup)
            runs = []
            for _ in range(b.reps):
                g0, w0 = cpu_seconds(gw.pid), [cpu_seconds(w.pid) for w in live]
                r = b.wrk("wrk_post.lua", url, ["bench", b.secret,
                                                "grant_type=client_credentials&scope=read"], b.seconds)
                g1, w1 = cpu_seconds(gw.pid), [cpu_seconds(w.pid) for w in live]
                req = max(r["requests"], 1)
                runs.append({"requests_per_s": round(r["requests_per_s"], 1),
                             "p99_ms": r["latency_us"].get("p99", 0) / 1000,
                             "errors": sum(r["errors"].values()),
                             "gateway_cpu_us": round(1e6 * (g1 - g0) / req, 1),
                             "workers_cpu_us": round(1e6 * (sum(w1) - sum(w0)) / req, 1)})
                log(f"cluster, {n} worker(s): {runs[-1]['requests_per_s']:,.0f} req/s, gateway "
                    f"{runs[-1]['gateway_cpu_us']} µs + workers {runs[-1]['workers_cpu_us']} µs CPU/request")
            out["runs"][f"{n}_worker{'s' if n > 1 else ''}"] = {
                "runs": runs, "requests_per_s": med(runs, "requests_per_s"),
                "p99_ms": med(runs, "p99_ms"), "gateway_cpu_us": med(runs, "gateway_cpu_us"),
                "workers_cpu_us": med(runs, "workers_cpu_us")}
        one = out["runs"]["1_worker"]
        out["all_role_cpu_us"] = all_cpu_us
        if all_cpu_us is not None:
            out["gateway_added_cpu_us"] = round(one["gateway_cpu_us"] + one["workers_cpu_us"]
                                                - all_cpu_us, 1)
        out["command"] = ("habanero serve --listen 127.0.0.1:PORT with HABANERO_CLUSTER_ROLE=gateway, "
                          "HABANERO_CLUSTER_WORKERS='127.0.0.1:W1 127.0.0.1:W2'; workers with "
                          "HABANERO_CLUSTER_ROLE=worker HABANERO_CLUSTER_LISTEN=127.0.0.1:Wn; all with "
                          "HABANERO_STORE_URL (PostgreSQL) and the KEK of habanero-postgres")
    finally:
        gw.stop()
        for w in workers:
            w.stop()
    return out


def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarise(b):
    summary = {}
    for n, per in b.runs.items():
        summary[n] = {}
        for s, runs in per.items():
            e = {k: med(runs, k) for k in ("requests_per_s", "p50_ms", "p99_ms", "cpu_s_per_1000",
                                           "peak_rss_kib", "errors")}
            if s == "authorization_code":
                e["sequences_per_s"] = med(runs, "sequences_per_s")
                e["cpu_s_per_1000_sequences"] = med(runs, "cpu_s_per_1000_sequences")
            summary[n][s] = e
    ratios = {}
    h = summary.get("habanero", {})
    for s in SCENARIOS:
        if s not in h:
            continue
        key = "sequences_per_s" if s == "authorization_code" else "requests_per_s"
        cpu_key = "cpu_s_per_1000_sequences" if s == "authorization_code" else "cpu_s_per_1000"
        for peer in PEERS:
            p = summary.get(peer, {}).get(s)
            if s == "client_credentials_chosen" and not peer.startswith("habanero"):
                p = summary.get(peer, {}).get("client_credentials")
            if not p or not p.get(key) or not h[s].get(key):
                continue
            ratios.setdefault(s, {})[peer] = {
                "throughput": round(h[s][key] / p[key], 3),
                # requests per CPU-second, Habanero ÷ peer
                "per_cpu_second": round(p[cpu_key] / h[s][cpu_key], 3)
                if h[s].get(cpu_key) and p.get(cpu_key) else None,
                "p99": round(h[s]["p99_ms"] / p["p99_ms"], 3) if p.get("p99_ms") else None,
            }
    return summary, ratios


def targets(summary, ratios, extra):
    """The goals of issues 7, 12 and 13, each with its measured value."""
    t = []

    def add(name, value, goal, met, unit=""):
        t.append({"target": name, "value": value, "goal": goal, "met": met, "unit": unit})

    def vs(scenario, peer, goal, label):
        r = ratios.get(scenario, {}).get(peer)
        if r:
            v = r["throughput"]
            add(f"{label}, Habanero ÷ {peer}", v, f"≥ {goal}", v >= goal, "×")

    vs("client_credentials", "node-oidc-provider", 4, "client_credentials req/s (generated secret)")
    cc = summary.get("habanero", {}).get("client_credentials", {})
    if cc.get("cpu_s_per_1000") is not None:
        v = round(cc["cpu_s_per_1000"] * 1000, 1)
        add("server CPU per client_credentials token", v, "≤ 40", v <= 40, "µs")
    vs("client_credentials_chosen", "node-oidc-provider", 4,
       "client_credentials req/s (operator-chosen secret; peer: its client_credentials)")
    vs("refresh_token", "node-oidc-provider", 2, "refresh with rotation req/s (SQLite synchronous=full)")
    vs("introspection", "node-oidc-provider", 4, "introspection req/s")
    vs("authorization_code", "node-oidc-provider", 2, "authorization-code round trips/s")
    r = ratios.get("client_credentials", {})
    if "keycloak" in r and r["keycloak"]["per_cpu_second"]:
        v = r["keycloak"]["per_cpu_second"]
        add("client_credentials requests per CPU-second, Habanero ÷ Keycloak", v, "≥ 50", v >= 50, "×")
    if "nginx" in r:
        v = r["nginx"]["throughput"]
        add("client_credentials req/s, Habanero ÷ nginx floor", v, "≥ 0.25", v >= 0.25, "×")
    pg = summary.get("habanero-postgres", {}).get("refresh_token", {}).get("requests_per_s")
    node = summary.get("node-oidc-provider", {}).get("refresh_token", {}).get("requests_per_s")
    if pg and node:
        v = round(pg / node, 3)
        add("refresh_token req/s, Habanero on PostgreSQL ÷ node-oidc-provider (in memory)", v,
            "> 1", v > 1, "×")
    for s in SCENARIOS:  # Hydra: reported, no goal
        h = ratios.get(s, {}).get("hydra")
        if h:
            add(f"{s}, Habanero ÷ Ory Hydra (report)", h["throughput"], "report", True, "×")
    if extra.get("paced"):
        v = extra["paced"]["p99_ms_median"]
        fl = extra.get("paced_floor", {}).get("p99_ms_median")
        if fl:
            add(f"p99 at half peak ({extra['paced']['rate']:,.0f} req/s, open loop), "
                f"÷ nginx's p99 at that rate ({fl:.2f} ms)", round(v / fl, 2), "≤ 2", v / fl <= 2, "×")
        else:
            add(f"p99 at half peak ({extra['paced']['rate']:,.0f} req/s, open loop)", v, "report",
                True, "ms")
    if extra.get("idle_rss_kib"):
        v = round(extra["idle_rss_kib"] / 1024, 1)
        add("idle RSS, default extensions", v, "≤ 64", v <= 64, "MiB")
    g = extra.get("rss_growth", {})
    if g.get("growth_last_vs_first") is not None:
        v = round(100 * g["growth_last_vs_first"], 2)
        add(f"RSS after {g['last']['requests']:,} vs after {g['first']['requests']:,} requests", v,
            "≤ 5", abs(v) <= 5, "%")
    if extra.get("start_ms", {}).get("median") is not None:
        v = extra["start_ms"]["median"]
        add("process start to first 200, warm module cache", v, "≤ 100", v <= 100, "ms")
    c = extra.get("cluster", {})
    if c.get("gateway_added_cpu_us") is not None:
        v = c["gateway_added_cpu_us"]
        add("gateway's added CPU per request over --role all (client_credentials, PostgreSQL)", v,
            "≤ 30", v <= 30, "µs")
    return t


def machine():
    cpu = platform.processor()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "mem_total_kib": mem,
            "kernel": platform.release(), "load_average": os.getloadavg()}


def versions(cache, kc, hydra=None):
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip() or \
                subprocess.run(cmd, capture_output=True, text=True, timeout=30).stderr.strip()
        except OSError:
            return None
    v = {"node": run(["node", "--version"]), "wrk": (run(["wrk", "--version"]) or "").split("\n")[0],
         "nginx": run(["nginx", "-v"]), "java": (run(["java", "-version"]) or "").split("\n")[0],
         "keycloak": kc.version if kc else None,
         "hydra": getattr(hydra, "version", None)}
    try:
        lock = json.load(open(os.path.join(ROOT, "bench/peers/node-oidc-provider/package-lock.json")))
        v["oidc-provider"] = lock["packages"]["node_modules/oidc-provider"]["version"]
    except (OSError, KeyError, ValueError):
        pass
    return v


def charts(result, outdir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing: no charts (scripts/setup-bench-peers.sh installs it)")
        return []
    summary = result["summary"]
    names = [n for n in SERVERS if n in summary]
    colors = {"habanero": "#d9480f", "habanero-postgres": "#f08c00", "node-oidc-provider": "#2f9e44",
              "keycloak": "#1971c2", "hydra": "#7048e8", "nginx": "#868e96"}
    labels = {"client_credentials": "client_credentials",
              "client_credentials_chosen": "client_credentials\n(chosen secret)",
              "refresh_token": "refresh (rotation)",
              "introspection": "introspection", "authorization_code": "auth-code round trip\n(sequences/s)"}
    files = []

    def grouped(metric, title, ylabel, fname, log_scale=False, seq_metric=None, seq_label=None):
        fig, ax = plt.subplots(figsize=(9, 5))
        width = 0.8 / len(names)
        for i, n in enumerate(names):
            xs, ys = [], []
            for j, s in enumerate(SCENARIOS):
                e = summary[n].get(s)
                if not e:
                    continue
                key = seq_metric if (seq_metric and s == "authorization_code") else metric
                if e.get(key) is None:
                    continue
                xs.append(j + (i - (len(names) - 1) / 2) * width)
                ys.append(e[key])
            bars = ax.bar(xs, ys, width, label=n, color=colors.get(n))
            for x, y in zip(xs, ys):
                ax.annotate(f"{y:,.0f}" if y >= 10 else f"{y:.2g}", (x, y), ha="center",
                            va="bottom", fontsize=7)
        ticks = [labels[s] for s in SCENARIOS]
        if seq_label:
            ticks[SCENARIOS.index("authorization_code")] = seq_label
        ax.set_xticks(range(len(SCENARIOS)), ticks, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        if log_scale:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = os.path.join(outdir, fname)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)

    sub = f"\n(median of {result['settings']['repetitions']} interleaved runs, loopback, {result['machine']['nproc']} vCPUs shared with the load generator)"
    grouped("requests_per_s", f"Throughput {sub}", "requests/s (log)", "comparison-throughput.png",
            log_scale=True, seq_metric="sequences_per_s")
    grouped("p99_ms", f"p99 latency {sub}", "ms (log)", "comparison-p99.png", log_scale=True,
            seq_label="auth-code round trip\n(per sequence)")
    grouped("cpu_s_per_1000", f"Server CPU seconds per 1,000 requests {sub}",
            "CPU s / 1000 requests (log)", "comparison-cpu.png",
            log_scale=True, seq_metric="cpu_s_per_1000_sequences",
            seq_label="auth-code round trip\n(per 1,000 sequences)")
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--results", default=os.path.join(ROOT, "bench/results"))
    ap.add_argument("--docs", default=os.path.join(ROOT, "docs/img"))
    ap.add_argument("--charts-only", metavar="RESULTS_JSON",
                    help="only redraw the charts of an earlier run into --docs")
    args = ap.parse_args()
    if args.charts_only:
        for f in charts(json.load(open(args.charts_only)), args.docs):
            print(f"  chart: {f}")
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below
    b = Bench(args)
    servers = {}
    started = time.time()
    try:
        servers = b.compare()
        summary, ratios = summarise(b)
        extra = {}
        if os.environ.get("BENCH_SKIP_TARGETS", "") in ("", "0"):
            extra = b.targets_runs(servers, summary["habanero"]["client_credentials"]["requests_per_s"])
        if os.environ.get("BENCH_CLUSTER", "") in ("", "1") and "habanero-postgres" in servers:
            cc = summary.get("habanero-postgres", {}).get("client_credentials", {})
            cpu = cc.get("cpu_s_per_1000")
            try:
                extra["cluster"] = cluster_runs(b, servers["habanero-postgres"],
                                                cpu * 1000 if cpu is not None else None)
            except Exception as e:  # the comparison's figures are kept either way
                log(f"cluster runs failed: {e}")
                extra["cluster"] = {"error": str(e)}
    finally:
        for s in servers.values():
            s.stop()
        for s in getattr(b, "all", {}).values():
            s.stop()
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": round(time.time() - started),
        "machine": machine(),
        "versions": versions(args.cache, b.all.get("keycloak"), b.all.get("hydra")),
        "settings": {"repetitions": b.reps, "seconds": b.seconds, "warmup_seconds": b.warmup,
                     "wrk_threads": b.threads, "connections": b.conns,
                     "flow_connections": b.flow_conns, "quick": b.quick, "servers": list(b.runs)},
        "commands": b.commands,
        "checks": b.checks,
        "idle_rss_kib": b.idle,
        "peak_rss_kib": b.peak,
        "summary": summary,
        "ratios": ratios,
        "habanero": extra,
        "runs": b.runs,
    }
    result["targets"] = targets(summary, ratios, extra)
    os.makedirs(args.results, exist_ok=True)
    os.makedirs(args.docs, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = os.path.join(args.results, f"{stamp}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    shutil.copyfile(path, os.path.join(args.docs, "comparison-latest.json"))
    files = charts(result, args.docs)
    shutil.rmtree(b.tmp, ignore_errors=True)

    print()
    print("== Comparison (medians) ==")
    for n, per in summary.items():
        for s, e in per.items():
            rate = f"{e['sequences_per_s']:,.1f} seq/s" if s == "authorization_code" else f"{e['requests_per_s']:,.0f} req/s"
            print(f"  {n:18s} {s:18s} {rate:>16s}  p50 {e['p50_ms']:7.2f} ms  p99 {e['p99_ms']:7.2f} ms"
                  f"  cpu/1000 {e['cpu_s_per_1000']:.3f} s  peak RSS {e['peak_rss_kib'] / 1024:,.0f} MiB")
    print("== Ratios (Habanero ÷ peer: throughput, per CPU-second) ==")
    for s, per in ratios.items():
        for peer, r in per.items():
            print(f"  {s:18s} ÷ {peer:18s} {r['throughput']:8.2f}×  {r['per_cpu_second'] or 0:8.2f}×")
    print("== Targets ==")
    for t in result["targets"]:
        print(f"  [{'MET' if t['met'] else 'MISSED':6s}] {t['target']}: {t['value']} {t['unit']} (goal {t['goal']})")
    print(f"  results: {path}")
    for f in files:
        print(f"  chart: {f}")


if __name__ == "__main__":
    main()
