#!/usr/bin/env python3
"""A throw-away PostgreSQL 15 server for tests (Debian's postgresql-15).

initdb into a fresh temporary directory as an unprivileged user (tests run as
root in CI: then the `postgres` system user the package creates), a free TCP
port on 127.0.0.1 with password (SCRAM) authentication, the unix socket in the
temporary directory, fsync off (tests survive process kills, not power loss).

As a module:
    with PostgresServer() as pg:
        url = pg.create_database()        # postgres://habanero:…@127.0.0.1:PORT/t_…
        pg.restart() / pg.stop_server() / pg.start_server()
As a command (the ctest fixture shared by every test process):
    postgres_server.py start STATE_DIR    prints the admin URL, writes STATE_DIR/url
    postgres_server.py stop STATE_DIR
    postgres_server.py createdb STATE_DIR prints the URL of a fresh database
Nothing is skipped when PostgreSQL is missing: that is an error (scripts/setup.sh installs it).
"""
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

PG_BIN = "/usr/lib/postgresql/15/bin"
SUPERUSER = "habanero"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as():
    """The command prefix that drops root to the postgres user (none when not root)."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError("running as root but there is no 'postgres' user: run scripts/setup.sh")
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
            "--"], user


class PostgresServer:
    def __init__(self, data_root=None):
        if not os.path.exists(os.path.join(PG_BIN, "initdb")):
            raise RuntimeError(f"{PG_BIN}/initdb not found: run scripts/setup.sh (postgresql-15)")
        self.prefix, self.user = _run_as()
        self.root = data_root or tempfile.mkdtemp(prefix="habanero-pg-")
        self.data = os.path.join(self.root, "data")
        self.socket_dir = self.root
        self.log = os.path.join(self.root, "server.log")
        self.password = secrets.token_urlsafe(18)
        self.port = None
        self.running = False

    # -- life cycle --------------------------------------------------------
    def init(self):
        if self.user:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.root, 0o700)
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self.user:
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        subprocess.run(self.prefix + [
            f"{PG_BIN}/initdb", "-D", self.data, "-U", SUPERUSER, "--pwfile", pwfile,
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
            "--no-sync", "--no-instructions"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.unlink(pwfile)
        return self

    def start_server(self, port=None, durable=False):
        """durable: fsync and full-page writes on, as in production (benchmarks); tests
        run without them (they survive process kills, not power loss)."""
        self.port = port or self.port or _free_port()
        opts = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                "-c max_connections=300 -c shared_buffers=128MB -c log_min_messages=warning")
        if not durable:
            opts += " -c fsync=off -c full_page_writes=off"
        result = subprocess.run(self.prefix + [
            f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-o", opts, "-w", "-t", "60",
            "start"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.decode()}\n{self._log_tail()}")
        self.running = True
        return self

    def stop_server(self, mode="fast"):
        if not self.running:
            return
        subprocess.run(self.prefix + [f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w",
                                      "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.running = False

    def restart(self):
        self.stop_server()
        self.start_server()

    def destroy(self):
        self.stop_server("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.init().start_server()

    def __exit__(self, *exc):
        self.destroy()

    def _log_tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    # -- databases ---------------------------------------------------------
    def url(self, database="postgres", password=None):
        pw = urllib.parse.quote(password if password is not None else self.password, safe="")
        return f"postgres://{SUPERUSER}:{pw}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql, database="postgres"):
        out = subprocess.run(
            [f"{PG_BIN}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d",
             self.url(database), "-c", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def create_database(self):
        name = "t_" + secrets.token_hex(8)
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def state(self):
        return {"root": self.root, "port": self.port, "password": self.password,
                "url": self.url(), "pid": self._pid()}

    def _pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    @classmethod
    def from_state(cls, state):
        server = cls.__new__(cls)
        server.prefix, server.user = _run_as()
        server.root = state["root"]
        server.data = os.path.join(server.root, "data")
        server.socket_dir = server.root
        server.log = os.path.join(server.root, "server.log")
        server.password = state["password"]
        server.port = state["port"]
        server.running = True
        return server


def _state_file(state_dir):
    return os.path.join(state_dir, "state.json")


def _stop(state_dir):
    try:
        with open(_state_file(state_dir)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return
    PostgresServer.from_state(state).destroy()
    pid = state.get("pid")
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for name in ("state.json", "url"):
        try:
            os.unlink(os.path.join(state_dir, name))
        except OSError:
            pass


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop", "createdb"):
        print(__doc__, file=sys.stderr)
        return 2
    state_dir = argv[2]
    os.makedirs(state_dir, exist_ok=True)
    if argv[1] == "stop":
        _stop(state_dir)
        return 0
    if argv[1] == "createdb":
        with open(_state_file(state_dir)) as f:
            print(PostgresServer.from_state(json.load(f)).create_database())
        return 0
    _stop(state_dir)  # a server an interrupted run left behind
    server = PostgresServer().init().start_server()
    tmp = _state_file(state_dir) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(server.state(), f)
    os.chmod(tmp, 0o600)
    os.replace(tmp, _state_file(state_dir))
    with open(os.path.join(state_dir, "url"), "w") as f:
        f.write(server.url() + "\n")
    print(server.url())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
