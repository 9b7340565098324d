"""Events on NATS JetStream in a cluster, with the broker stopped under load (issue 14, Faults).

PostgreSQL, a real nats-server (JetStream, a temporary store, a free loopback port), one
gateway and two workers, every one the real habanero binary with [events] broker_url set.
The test module event_counter (tests/wasm) is mounted at /counter: a request publishes a
batch of events on "counter.tick" (the outbox row is committed before it answers), and its
habanero_on_event counts every delivery of every event in its kv, by payload.

A publisher sends batches through the gateway the whole time; nats-server is stopped for a
while in the middle and started again. Then:
  - every publish was accepted (the outbox is the durable point, the broker is not needed);
  - the gateway's /readyz reports the broker while it is away, and is ready again after;
  - every event is delivered, none twice (counted per payload by the extension itself);
  - the outbox ends empty (`habanero outbox list`);
  - the outage is logged once per process, not once per event.
No timing assertions: the waits only bound how long the test waits before failing.

Environment: HABANERO_BIN, HABANERO_WASM_OUT and HABANERO_NATS_SERVER (the nats-server
binary, from scripts/build-nats-server.sh), set by tests/cluster/CMakeLists.txt.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster  # noqa: E402

NATS = os.environ.get("HABANERO_NATS_SERVER", "")
PATIENCE_S = 120   # how long to wait for anything before failing (a busy machine is slow)
BATCH = 5          # events per publish request
PASSWORD = "br0ker-s3cret"


def wait_for(what, predicate, timeout=PATIENCE_S, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


class NatsServer:
    """nats-server with JetStream on a free loopback port; stop() and start() keep the
    port and the store directory, as a restarted broker would."""

    def __init__(self):
        if not NATS or not os.access(NATS, os.X_OK):
            raise AssertionError("HABANERO_NATS_SERVER must name the nats-server binary "
                                 "(scripts/build-nats-server.sh builds it)")
        self.store = tempfile.mkdtemp(prefix="habanero-nats-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        # Credentials in the URL, as an operator would pass them: they must never be logged.
        self.url = "nats://habanero:%s@127.0.0.1:%d" % (PASSWORD, self.port)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            [NATS, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store,
             "--user", "habanero", "--pass", PASSWORD],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("nats-server exited: " + self.proc.stderr.read())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False
        wait_for("nats-server to listen", listening)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def destroy(self):
        self.stop()
        shutil.rmtree(self.store, ignore_errors=True)


class BrokerCluster(cluster.Cluster):
    """cluster.Cluster with [events] broker_url and the event_counter extension on every
    process (the same configuration everywhere, as an operator would run it)."""

    def __init__(self, nats_url, **kwargs):
        self.nats_url = nats_url
        super().__init__(**kwargs)

    def _process(self, name, role, grpc_port, probe_port=None):
        p = super()._process(name, role, grpc_port, probe_port)
        with open(p.config, "a") as f:
            f.write('[[extensions]]\nname = "event_counter"\nmodule = "event_counter.wasm"\n'
                    'mount = "/counter"\ngrants = ["http", "kv", "events"]\n'
                    'publish = ["counter.tick"]\ndeadline_ms = 5000\n')
            f.write('[events]\nbroker_url = "%s"\npoll_ms = 200\nretry_base_ms = 200\n'
                    'retry_max_ms = 2000\n' % self.nats_url)
        return p


class EventsOnBrokerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nats = NatsServer()
        try:
            cls.c = BrokerCluster(cls.nats.url, workers=2, spares=0)
        except BaseException:
            cls.nats.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.c.stop()
        cls.nats.destroy()

    def get(self, path, **params):
        return requests.get(self.c.issuer + path, params=params, timeout=30)

    def count(self, path, **params):
        r = self.get(path, **params)
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()["count"]

    def test_broker_stopped_under_load_nothing_lost_nothing_twice(self):
        c = self.c
        self.assertEqual(c.readyz().status_code, 200, c.readyz().text)
        published = []          # payloads the gateway confirmed as published
        errors = []
        state = {"batches": 0, "down_batches": 0, "down": False}
        stop = threading.Event()

        def publisher():
            k = 0
            while not stop.is_set():
                prefix = "b%d" % k
                try:
                    r = self.get("/counter/publish", prefix=prefix, count=BATCH)
                except requests.RequestException as e:
                    errors.append(repr(e))
                    continue
                if r.status_code != 200 or r.json().get("published") != BATCH:
                    errors.append("%d %s" % (r.status_code, r.text))
                else:
                    published.extend("%s-%d" % (prefix, i) for i in range(BATCH))
                    state["batches"] += 1
                    if state["down"]:
                        state["down_batches"] += 1
                k += 1

        t = threading.Thread(target=publisher, daemon=True)
        t.start()
        try:
            # Under load, some events delivered through the broker.
            wait_for("deliveries before the outage",
                     lambda: state["batches"] >= 10 and self.count("/counter/total") >= 20)
            self.nats.stop()
            state["down"] = True
            # While it is away: publishing goes on (the outbox commits), /readyz says why.
            seen = []

            def broker_reported():
                r = c.readyz()
                seen[:] = [r.status_code, r.text]
                return r.status_code == 503 and "broker:" in r.text
            try:
                wait_for("/readyz to report the broker", broker_reported)
            except AssertionError:
                raise AssertionError("/readyz never reported the broker: %r\n%s" %
                                     (seen, c.log_tail()))
            readyz_text = seen[1]
            wait_for("publishes while the broker is away", lambda: state["down_batches"] >= 10)
            self.nats.start()
            state["down"] = False
            down_events = state["down_batches"] * BATCH
            after = state["batches"]
            wait_for("publishes after the broker returned", lambda: state["batches"] >= after + 5)
        finally:
            stop.set()
            t.join(timeout=60)
        self.assertEqual(errors, [], "every publish is accepted, broker or not")
        self.assertGreaterEqual(down_events, 10 * BATCH)

        total = len(published)
        wait_for("all %d events delivered" % total,
                 lambda: self.count("/counter/total") >= total, interval=0.5)
        c.wait_ready()  # the broker is back in /readyz
        self.assertEqual(self.count("/counter/total"), total,
                         "deliveries beyond the events published: something came twice")
        twice = [p for p in published if self.count("/counter/count", payload=p) != 1]
        self.assertEqual(twice, [], "events not delivered exactly once")
        wait_for("the outbox to empty",
                 lambda: "The outbox is empty" in c.cli("outbox", "list").stdout)

        # The outage is logged once per process that noticed it, not once per event.
        outage_lines = sum(1 for p in [c.gateway] + c.workers for line in list(p.lines)
                           if "is unavailable" in line and "events broker" in line)
        self.assertGreaterEqual(outage_lines, 1, c.log_tail())
        self.assertLessEqual(outage_lines, 2 * 3, c.log_tail())
        self.assertLess(outage_lines, down_events)
        self.assertNotIn(PASSWORD, c.log())
        repeats = sum(1 for p in c.workers for line in list(p.lines)
                      if "acknowledged again" in line)
        sys.stderr.write("events: %d published (%d while the broker was away), %d delivered, "
                         "%d redelivered repeat(s) recognised, %d outage line(s)\n"
                         % (total, down_events, total, repeats, outage_lines))
        self.assertNotIn(PASSWORD, readyz_text)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(EventsOnBrokerTest)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
