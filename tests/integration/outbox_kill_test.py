"""The outbox on PostgreSQL with two `habanero serve` processes and kill -9 (issue 13).

Two servers share one database. The test module event_mailer (tests/wasm) is subscribed to
"cluster.test" and mails every event it receives to an SMTP sink (holding_smtp_sink.py),
naming the node (a setting: "a" or "b"), the record id and the attempt. The sink holds the
first delivery from server a open; while it is held (server a is mid-delivery, its lease on
the record taken), server a is killed with SIGKILL. Then:
  - every published event reaches the sink;
  - the record a was delivering is delivered again, by b, with the next attempt number,
    after the kill (a's lease, events.lease_ms, set short here, has expired);
  - every other event reaches the sink exactly once — those a had leased but not begun
    included (b delivers them after the lease);
  - the outbox ends empty.
Real binary, real PostgreSQL, a real SMTP server on loopback. No timing assertions: the
waits below only bound how long the test waits before failing."""
import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postgres_cluster_test import request, shared_postgres  # noqa: E402

BIN = os.environ["HABANERO_BIN"]
WASM = os.environ["HABANERO_WASM_OUT"]
HERE = os.path.dirname(os.path.abspath(__file__))
LEASE_MS = 3000     # events.lease_ms of both servers: a's lease ends this long after the claim
PATIENCE_S = 90     # how long to wait for anything before failing (a busy machine is slow)


def python_with_aiosmtpd():
    """The first python3 that can import aiosmtpd (Debian's has python3-aiosmtpd)."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if candidate and subprocess.run([candidate, "-c", "import aiosmtpd"],
                                        capture_output=True).returncode == 0:
            return candidate
    raise AssertionError("no python3 here can import aiosmtpd: run scripts/setup.sh "
                         "(it installs python3-aiosmtpd)")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """holding_smtp_sink.py: every message it sees, in arrival order, as dicts."""

    def __init__(self, hold_prefix, hold_nth, delay_ms):
        python = python_with_aiosmtpd()
        for _ in range(3):
            self.port = free_port()
            self.proc = subprocess.Popen(
                [python, os.path.join(HERE, "holding_smtp_sink.py"), "--port", str(self.port),
                 "--delay-ms", str(delay_ms), "--hold-subject-prefix", hold_prefix,
                 "--hold-nth", str(hold_nth)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            first = self.proc.stdout.readline()
            if first and json.loads(first)["kind"] == "ready":
                break
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                stream.close()
        else:
            raise AssertionError("the SMTP sink did not start: " + self.proc.stderr.read())
        self.records = []
        self.cond = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            with self.cond:
                self.records.append(json.loads(line))
                self.cond.notify_all()

    def wait_until(self, predicate, what):
        with self.cond:
            if not self.cond.wait_for(lambda: predicate(self.records), timeout=PATIENCE_S):
                raise AssertionError("gave up waiting for %s; the sink saw:\n%s" % (
                    what, "\n".join(json.dumps(r) for r in self.records)))
            return list(self.records)

    def snapshot(self):
        with self.cond:
            return list(self.records)

    def release(self):
        self.proc.stdin.write("release\n")
        self.proc.stdin.flush()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def deliveries(records):
    """The sink's "data" records as (node, topic, id, attempt, payload), in arrival order."""
    out = []
    for r in records:
        if r["kind"] == "data":
            _, node, topic, rid, attempt, _publisher = r["subject"].split(" ")
            out.append((node, topic, rid, int(attempt), r["text"]))
    return out


class Server:
    def __init__(self, tmp, name, url, kek_file, smtp_port):
        data = os.path.join(tmp, name)
        self.config = os.path.join(tmp, name + ".toml")
        with open(self.config, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\ndata_dir = "%s"\nshutdown_grace_ms = 2000\n'
                    '[runtime]\nextension_dir = "%s"\nwatch_interval_ms = 0\n'
                    '[store]\nurl = "%s"\n'
                    '[keys]\nkek_file = "%s"\n'
                    '[mail]\nurl = "smtp://127.0.0.1:%d"\nfrom = "habanero@example.test"\n'
                    '[events]\npoll_ms = 200\nretry_base_ms = 200\nlease_ms = %d\n'
                    '[[extensions]]\nname = "event_mailer"\nmodule = "event_mailer.wasm"\n'
                    'mount = "/events"\ngrants = ["http", "events", "mail", "settings"]\n'
                    'publish = ["cluster.test"]\n'
                    '[extensions.settings]\nnode = "%s"\n'
                    % (data, WASM, url, kek_file, smtp_port, LEASE_MS, name))
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
            raise AssertionError("server %s did not start:\n%s" % (name, "".join(self.lines)))

    def _pump(self, stream):
        for line in stream:
            self.lines.append(line)

    def publish(self, count, prefix):
        status, body = request("%s/events/publish?count=%d&prefix=%s" % (self.issuer, count, prefix))
        assert status == 200, (status, body)
        answer = json.loads(body)
        assert answer == {"result": 0, "published": count}, answer
        return ["%s-%d" % (prefix, i) for i in range(count)]

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


class OutboxKillTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg, cls.own_pg = shared_postgres()

    @classmethod
    def tearDownClass(cls):
        if cls.own_pg:
            cls.pg.destroy()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="habanero-outbox-kill-")
        self.url = self.pg.create_database()
        self.kek_file = os.path.join(self.tmp, "kek")
        with open(self.kek_file, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        os.chmod(self.kek_file, 0o600)
        # Every answer takes 20 ms, so deliveries overlap with publishing; the third mail
        # from server a is held open until the test has killed a (the two before it are
        # delivered events a finished).
        self.sink = Sink(hold_prefix="event a ", hold_nth=3, delay_ms=20)
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.sink.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def outbox_list(self):
        env = dict(os.environ, HABANERO_STORE_URL=self.url, HABANERO_KEYS_KEK_FILE=self.kek_file)
        out = subprocess.run([BIN, "outbox", "list", "--data-dir", os.path.join(self.tmp, "cli")],
                             env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        return out.stdout

    def test_a_server_killed_mid_delivery_leaves_its_lease_to_the_other(self):
        a = Server(self.tmp, "a", self.url, self.kek_file, self.sink.port)
        self.servers.append(a)
        b = Server(self.tmp, "b", self.url, self.kek_file, self.sink.port)
        self.servers.append(b)

        # Publish through a (its dispatcher wakes at once; b's polls) until a has begun its
        # third delivery — b may take a whole wave before a claims anything.
        published = []
        held = None
        for wave in range(8):
            published += a.publish(10, "w%d" % wave)
            published += b.publish(5, "v%d" % wave)
            wave_done = set(published)
            records = self.sink.wait_until(
                lambda rs: any(r["kind"] == "hold" for r in rs)
                or {d[4] for d in deliveries(rs)} >= wave_done,
                "a delivery by server a, or every event so far delivered by b")
            if any(r["kind"] == "hold" for r in records):
                held = records
                break
        self.assertIsNotNone(held, "server a never began its third delivery")
        hold = next(r for r in held if r["kind"] == "hold")
        _, _, topic, held_id, held_attempt, _ = hold["subject"].split(" ")

        # a is inside its SMTP exchange for held_id (the sink has not answered): kill it now.
        # b keeps delivering meanwhile; publish more through b while a is held and after.
        published += b.publish(10, "during")
        os.kill(a.proc.pid, signal.SIGKILL)
        self.assertEqual(a.proc.wait(timeout=30), -signal.SIGKILL)
        killed_at = len(self.sink.snapshot())
        self.sink.release()
        published += b.publish(10, "after")

        # Every event arrives, the held one a second time from b.
        def complete(rs):
            got = deliveries(rs)
            seen = {d[4] for d in got}
            again = [d for d in got if d[2] == held_id and d[0] == "b"]
            return seen >= set(published) and again
        self.sink.wait_until(complete, "every event, and the held one again from b")
        # Nothing is left to deliver: then nothing more can arrive.
        deadline = time.time() + PATIENCE_S
        listing = self.outbox_list()
        while "The outbox is empty" not in listing and time.time() < deadline:
            time.sleep(0.2)
            listing = self.outbox_list()
        self.assertIn("The outbox is empty", listing)

        records = self.sink.snapshot()
        got = deliveries(records)
        by_id = {}
        for d in got:
            by_id.setdefault(d[2], []).append(d)
        payloads = [d[4] for d in got]
        self.assertEqual(set(payloads), set(published))
        self.assertEqual(len(by_id), len(published), "one record per event and subscriber")

        # The held record: a's attempt, then b's next attempt, after the kill.
        first, second = by_id[held_id]
        self.assertEqual((first[0], first[3]), ("a", int(held_attempt)))
        self.assertEqual((second[0], second[3]), ("b", int(held_attempt) + 1))
        second_index = next(i for i, r in enumerate(records)
                            if r["kind"] == "data" and r["subject"].split(" ")[3] == held_id
                            and r["subject"].split(" ")[1] == "b")
        self.assertGreaterEqual(second_index, killed_at, "redelivered only after the kill")

        # Every other event exactly once.
        duplicates = {rid: ds for rid, ds in by_id.items() if len(ds) != 1 and rid != held_id}
        self.assertEqual(duplicates, {})
        # Nothing from a after the kill; everything after it is b's.
        self.assertEqual([r for r in records[killed_at:]
                          if r["kind"] == "data" and r["subject"].split(" ")[1] == "a"], [])
        # What a had leased but not begun went to b after the lease: attempt 2 there.
        leased_by_a = sorted(rid for rid, ds in by_id.items()
                             if ds[-1][0] == "b" and ds[-1][3] > 1)
        self.assertIn(held_id, leased_by_a)
        by_a = sum(1 for d in got if d[0] == "a")
        self.assertGreaterEqual(by_a, 3, "a delivered two events, then was killed in the third")
        print("%d events: %d delivered by a before the kill (1 held: %s), %d by b; "
              "%d of a's leases redelivered by b after lease expiry (%s)" % (
                  len(published), by_a, held_id, len(got) - by_a, len(leased_by_a),
                  " ".join(leased_by_a)), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
