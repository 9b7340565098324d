"""Fault tests of the cluster roles on loopback (issue 14): PostgreSQL, one gateway, two
workers and a spare, every process the real `habanero serve`.

The tests run in order on one cluster (numbered): forwarding and probes; the OAuth flows
through the gateway; a worker drained by SIGTERM under load (nothing fails); a worker killed
with SIGKILL under load (only requests in flight on it may fail; no authorization code is
redeemed twice; readiness reflects it; a new worker joins); every worker gone (503 with
Retry-After, then recovery); PostgreSQL restarted (readiness and requests fail closed while it
is away, then recover without restarting Habanero).
"""
import concurrent.futures
import os
import re
import sys
import threading
import time
import unittest

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster as cl  # noqa: E402
import habanero_interop as hi  # noqa: E402

CONFIDENTIAL = "rp"
PUBLIC = "rp-public"


def poll(predicate, timeout=60, what="condition"):
    """Waits for predicate() to be truthy (no timing assertion: the bound is a hang guard)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Load:
    """Threads that send requests back to back and record (start, end, method, status)."""

    def __init__(self, cluster, secret, threads=4):
        self.cluster = cluster
        self.secret = secret
        self.records = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def _one(self, i, n):
        if (i + n) % 2 == 0:
            return "GET", requests.get(self.cluster.issuer + "/jwks.json", timeout=30)
        return "POST", hi.token_request(self.cluster, {"grant_type": "client_credentials"},
                                        CONFIDENTIAL, self.secret)

    def _run(self, i):
        n = 0
        while not self.stop_flag.is_set():
            start = time.monotonic()
            try:
                method, r = self._one(i, n)
                status = r.status_code
            except requests.RequestException as e:
                method, status = "?", repr(e)
            end = time.monotonic()
            with self.lock:
                self.records.append((start, end, method, status))
            n += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)

    def wait_for(self, count):
        poll(lambda: len(self.records) >= count, timeout=120, what="%d requests" % count)

    def failures(self):
        return [r for r in self.records if r[3] != 200]

    def summary(self):
        """Failures by (method, status), with the first few."""
        counts = {}
        for r in self.failures():
            counts[(r[2], r[3])] = counts.get((r[2], r[3]), 0) + 1
        return "%d of %d failed: %r; first: %r" % (len(self.failures()), len(self.records),
                                                   counts, self.failures()[:5])


class ClusterFaults(unittest.TestCase):
    cluster = None
    maxDiff = 2000

    @classmethod
    def setUpClass(cls):
        # min_workers=2: readiness says so when one of the two is gone.
        cls.cluster = cl.Cluster(workers=2, spares=1, min_workers=2)
        c = cls.cluster
        c.add_user(hi.USER_EMAIL, hi.USER_PASSWORD, name=hi.USER_NAME)
        cls.secret = c.add_client(
            CONFIDENTIAL, redirect_uris=[hi.REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            scopes="openid profile email offline_access", name="Cluster RP")
        c.add_client(PUBLIC, public=True, redirect_uris=[hi.LOOPBACK_REDIRECT_URI],
                     grant_types=["authorization_code", "refresh_token"],
                     scopes="openid profile email offline_access", name="Cluster app")

    @classmethod
    def tearDownClass(cls):
        if cls.cluster:
            cls.cluster.stop()

    def tearDown(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is not None and any(t is self for t, _ in result.failures + result.errors):
            print("\n---- cluster log (last lines) ----\n" + self.cluster.log_tail(60), flush=True)

    def metric(self, name, labels=""):
        text = requests.get(self.cluster.issuer + "/metrics", timeout=10).text
        m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
        return float(m.group(1)) if m else None

    # -- 1 ----------------------------------------------------------------------------------
    def test_1_forwarding_and_probes(self):
        c = self.cluster
        r = c.readyz()
        self.assertEqual(200, r.status_code, r.text)
        d = c.discovery()
        self.assertEqual(c.issuer, d["issuer"])
        # The request id is carried to the worker and back; the client's own is kept.
        r = requests.get(c.issuer + "/jwks.json", headers={"X-Request-Id": "test-id-1"}, timeout=10)
        self.assertEqual(200, r.status_code)
        self.assertEqual("test-id-1", r.headers.get("X-Request-Id"))
        self.assertTrue(r.json()["keys"])
        r = requests.get(c.issuer + "/jwks.json", headers={"X-Request-Id": "not an id"}, timeout=10)
        self.assertRegex(r.headers.get("X-Request-Id", ""), r"^[0-9a-f]{32}$")
        # Both workers serve: the gateway's metrics say so, and both answered requests.
        self.assertEqual(2, self.metric("habanero_gateway_workers_healthy"))
        self.assertEqual(3, self.metric("habanero_gateway_workers_total"))
        # The host's own login page knows the workers' authenticator.
        r = requests.get(c.issuer + "/login?rt=nonexistent", timeout=10)
        self.assertEqual(400, r.status_code)
        # Unknown paths are the router's 404, on a worker.
        r = requests.get(c.issuer + "/no-such-route", timeout=10)
        self.assertEqual(404, r.status_code)
        self.assertGreater(self.metric("habanero_gateway_requests_total",
                                       '{outcome="forwarded"}'), 0)

    # -- 2 ----------------------------------------------------------------------------------
    def test_2_flows_through_gateway(self):
        c = self.cluster
        # Code + PKCE with a password login (the public client), then refresh.
        flow = hi.Flow(c, PUBLIC, redirect_uri=hi.LOOPBACK_REDIRECT_URI).run()
        r = flow.redeem()
        self.assertEqual(200, r.status_code, hi.exchange(r))
        tokens = r.json()
        self.assertIn("id_token", tokens)
        self.assertIn("refresh_token", tokens)
        r = hi.token_request(c, {"grant_type": "refresh_token",
                                 "refresh_token": tokens["refresh_token"]}, PUBLIC)
        self.assertEqual(200, r.status_code, hi.exchange(r))
        # The code is spent: a second redemption fails (whichever worker gets it).
        r = flow.redeem()
        self.assertEqual(400, r.status_code, hi.exchange(r))
        self.assertEqual("invalid_grant", r.json().get("error"))
        # Confidential client: code flow, introspection, client credentials.
        flow = hi.Flow(c, CONFIDENTIAL).run()
        r = flow.redeem(self.secret)
        self.assertEqual(200, r.status_code, hi.exchange(r))
        access = r.json()["access_token"]
        d = c.discovery()
        r = requests.post(d["introspection_endpoint"], data={"token": access},
                          auth=(CONFIDENTIAL, self.secret), timeout=30)
        self.assertEqual(200, r.status_code, hi.exchange(r))
        self.assertTrue(r.json()["active"])
        r = hi.token_request(c, {"grant_type": "client_credentials"},
                             CONFIDENTIAL, self.secret)
        self.assertEqual(200, r.status_code, hi.exchange(r))

    # -- 3 ----------------------------------------------------------------------------------
    def test_3_sigterm_drains_without_failures(self):
        c = self.cluster
        with Load(c, self.secret) as load:
            load.wait_for(20)
            code = c.workers[1].terminate(timeout=60)
            self.assertEqual(0, code, c.workers[1].log())
            self.assertIn("draining", c.workers[1].log())
            n = len(load.records)
            load.wait_for(n + 20)
        self.assertEqual(0, len(load.failures()),
                         "a drained worker must not fail a request: " + load.summary())
        poll(lambda: self.metric("habanero_gateway_workers_healthy") == 1, what="1 healthy")
        c.start_worker(1)
        c.wait_ready(healthy=2)

    # -- 4 ----------------------------------------------------------------------------------
    def test_4_sigkill_under_load(self):
        c = self.cluster
        # Authorization codes obtained before the kill, redeemed while it happens.
        flows = [hi.Flow(c, CONFIDENTIAL).run() for _ in range(4)]
        results = {}
        with Load(c, self.secret, threads=4) as load:
            load.wait_for(20)
            with concurrent.futures.ThreadPoolExecutor(len(flows)) as pool:
                futures = {pool.submit(f.redeem, self.secret): f for f in flows}
                killed_at = time.monotonic()
                c.kill_worker(0)
                killed_done = time.monotonic()  # reaped: nothing can start on it after this
                for fut, f in futures.items():
                    results[f.code] = fut.result().status_code
            n = len(load.records)
            load.wait_for(n + 40)

        # Only requests in flight at the kill may fail: each started before the worker was
        # gone and ended after the kill began.
        failures = load.failures()
        for start, end, method, status in failures:
            self.assertLessEqual(start, killed_done, load.summary())
            self.assertGreaterEqual(end, killed_at, load.summary())
            self.assertEqual("POST", method, "a GET is retried elsewhere: " + load.summary())
            self.assertEqual(502, status, load.summary())
        self.assertLessEqual(len(failures), 2 * len(load.threads), load.summary())
        print("\nSIGKILL under load: %d requests, %d failed (in flight on the killed worker); "
              "code redemptions during the kill: %r" % (len(load.records), len(failures),
                                                        sorted(results.values())), flush=True)

        # No code is redeemed twice: a replay of each fails, and at most one 200 per code.
        for f in flows:
            first = results[f.code]
            self.assertIn(first, (200, 502), results)
            replay = f.redeem(self.secret)
            # 502: the first may or may not have run; either way at most one 200 per code.
            if first == 200:
                self.assertEqual(400, replay.status_code,
                                 "redeemed twice (first %d): %s" % (first, hi.exchange(replay)))
            else:
                self.assertIn(replay.status_code, (200, 400), hi.exchange(replay))

        # Readiness reflects the loss (min_workers = 2) ...
        poll(lambda: c.readyz().status_code == 503, what="/readyz 503")
        self.assertIn("1 of 3 healthy", c.readyz().text)
        # ... and a new worker joins (the spare slot of the gateway's list).
        c.start_worker(2)
        c.wait_ready(healthy=2)
        port = c.worker_ports[2]
        self.assertEqual(1, self.metric("habanero_gateway_worker_up",
                                        '{worker="127.0.0.1:%d"}' % port))
        for _ in range(10):
            r = hi.token_request(c, {"grant_type": "client_credentials"},
                                 CONFIDENTIAL, self.secret)
            self.assertEqual(200, r.status_code, hi.exchange(r))

    # -- 5 ----------------------------------------------------------------------------------
    def test_5_no_worker_fails_closed(self):
        c = self.cluster
        for w in c.workers:
            w.kill()
        poll(lambda: self.metric("habanero_gateway_workers_healthy") == 0, what="0 healthy")
        r = requests.get(c.issuer + "/jwks.json", timeout=30)
        self.assertEqual(503, r.status_code, r.text)
        self.assertEqual("1", r.headers.get("Retry-After"))
        r = hi.token_request(c, {"grant_type": "client_credentials"}, CONFIDENTIAL, self.secret)
        self.assertEqual(503, r.status_code)
        self.assertEqual(503, c.readyz().status_code)
        # The gateway itself stays alive, and recovers when workers return.
        self.assertEqual(200, requests.get(c.issuer + "/healthz", timeout=10).status_code)
        c.start_worker(0)
        c.start_worker(1)
        c.wait_ready(healthy=2)
        r = requests.get(c.issuer + "/jwks.json", timeout=30)
        self.assertEqual(200, r.status_code)

    # -- 6 ----------------------------------------------------------------------------------
    def test_6_postgres_restart(self):
        c = self.cluster
        c.wait_ready(healthy=2)
        c.pg.stop_server()
        # Away: the gateway says so, and what needs the store fails closed (no 200, no hang).
        poll(lambda: c.readyz().status_code == 503 and "store:" in c.readyz().text,
             what="/readyz 503 naming the store")
        # Workers whose store does not answer turn NOT_SERVING: the gateway stops using them.
        poll(lambda: self.metric("habanero_gateway_workers_healthy") == 0, what="0 healthy")
        for w in c.workers[:2]:
            self.assertIn("not serving: store", w.log())
        r = requests.get(c.issuer + "/.well-known/openid-configuration", timeout=30)
        self.assertEqual(503, r.status_code)
        self.assertEqual("1", r.headers.get("Retry-After"))
        _, challenge = hi.pkce_pair()
        flow_url, _ = hi.authorization_url(c, PUBLIC, hi.LOOPBACK_REDIRECT_URI, "openid",
                                           challenge)
        r = requests.get(flow_url, timeout=30, allow_redirects=False)
        if r.status_code in (302, 303):
            # OAuth's way to fail closed: the client learns it through its redirect URI.
            where = r.headers.get("Location", "")
            self.assertIn(hi.query_of(where).get("error"),
                          ("temporarily_unavailable", "server_error"), where)
        else:
            self.assertGreaterEqual(r.status_code, 500, r.text)
        # Back on the same port: recovery without restarting any Habanero process.
        c.pg.start_server()
        c.wait_ready(healthy=2)
        flow = hi.Flow(c, CONFIDENTIAL).run()
        r = flow.redeem(self.secret)
        self.assertEqual(200, r.status_code, hi.exchange(r))
        for p in [c.gateway] + c.workers[:2]:
            self.assertTrue(p.running(), p.name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
