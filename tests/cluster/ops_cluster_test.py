"""The operator's surface of a real cluster on loopback (issue 14, docs/cluster.md
"Observability"): PostgreSQL, one gateway and one worker, both the real `habanero serve`,
with JSON logs and the worker's probe listener (cluster.probe_listen).

- /metrics on the gateway and on the worker: request families with extension, route and
  status labels (a route is a manifest route, never the raw path), the runtime's instance
  counter and the outbox gauges on the worker, the worker set on the gateway;
- /healthz and /readyz on the worker's probe listener (and nothing else there);
- JSON lines on both processes, and the request id the gateway assigns (or takes from the
  client) in the gateway's and the worker's lines for that request.
"""
import json
import os
import re
import secrets
import sys
import time
import unittest

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster as cl  # noqa: E402


def poll(predicate, timeout=60, what="condition"):
    """Waits for predicate() to be truthy (no timing assertion: the bound is a hang guard)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def sample(text, series):
    """The value of the sample line that starts with `series` exactly, or None."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def json_lines(process):
    """Every output line of `process` parsed; fails naming the first that is not JSON."""
    out = []
    for line in list(process.lines):
        try:
            obj = json.loads(line)
        except ValueError:
            raise AssertionError("%s wrote a line that is not JSON: %r" % (process.name, line))
        if not isinstance(obj, dict):
            raise AssertionError("%s wrote a JSON line that is not an object: %r" % (
                process.name, line))
        out.append(obj)
    return out


class Ops(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = cl.Cluster(workers=1, spares=0, log_format="json", log_level="debug",
                           worker_probes=True)

    @classmethod
    def tearDownClass(cls):
        cls.c.stop()

    def test_1_worker_probes(self):
        base = self.c.probe_url(0)
        r = requests.get(base + "/healthz", timeout=10)
        self.assertEqual((200, "ok"), (r.status_code, r.text.strip()))
        r = requests.get(base + "/readyz", timeout=10)
        self.assertEqual((200, "ready"), (r.status_code, r.text.strip()), r.text)
        r = requests.get(base + "/metrics", timeout=10)
        self.assertEqual(200, r.status_code)
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        # The probe listener serves probes only: no extension, no host page.
        for path in ("/.well-known/openid-configuration", "/login", "/admin/clients"):
            self.assertEqual(404, requests.get(base + path, timeout=10).status_code, path)
        self.assertEqual(405, requests.post(base + "/readyz", timeout=10).status_code)

    def test_2_metrics_on_every_role(self):
        r = requests.get(self.c.issuer + "/.well-known/openid-configuration", timeout=10)
        self.assertEqual(200, r.status_code)
        self.assertEqual(404, requests.get(self.c.issuer + "/no/such/page-%s" %
                                           secrets.token_hex(4), timeout=10).status_code)
        discovery = 'extension="oauth2",route="/.well-known/openid-configuration",status="200"'

        gw = requests.get(self.c.issuer + "/metrics", timeout=10).text
        self.assertGreaterEqual(sample(gw, "habanero_http_requests_total{%s}" % discovery), 1)
        self.assertEqual(1, sample(gw, "habanero_gateway_workers_healthy"))
        # A path no manifest declares is one label, whatever the path was.
        self.assertGreaterEqual(sample(
            gw, 'habanero_http_requests_total{extension="oauth2",route="unmatched",'
                'status="404"}'), 1)
        self.assertNotIn("page-", gw)

        wk = requests.get(self.c.probe_url(0) + "/metrics", timeout=10).text
        self.assertGreaterEqual(sample(wk, "habanero_worker_requests_total{%s}" % discovery), 1)
        self.assertGreaterEqual(
            sample(wk, 'habanero_runtime_instances_total{extension="oauth2"}'), 1)
        self.assertIsNotNone(sample(wk, "habanero_outbox_pending_records"))
        self.assertIsNotNone(sample(wk, "habanero_outbox_oldest_pending_age_seconds"))
        # The 404 for an undeclared route is the router's: one instance ran, for discovery.
        self.assertGreaterEqual(sample(
            wk, 'habanero_worker_requests_total{extension="oauth2",route="unmatched",'
                'status="404"}'), 1)
        self.assertNotIn("page-", wk)
        # No trap, deadline or failed host call happened (families without samples are not
        # listed; their counting is cluster_ops_test's and runtime_extension_test's).
        self.assertNotIn("habanero_runtime_traps_total{", wk)
        self.assertNotIn("habanero_runtime_deadlines_total{", wk)

    def test_3_request_id_in_both_logs_as_json(self):
        rid = "ops-" + secrets.token_hex(8)
        r = requests.get(self.c.issuer + "/jwks.json", headers={"X-Request-Id": rid}, timeout=10)
        self.assertEqual(200, r.status_code)
        self.assertEqual(rid, r.headers["X-Request-Id"])
        # And one the gateway makes up.
        r2 = requests.get(self.c.issuer + "/jwks.json", timeout=10)
        made_up = r2.headers["X-Request-Id"]
        self.assertRegex(made_up, r"^[0-9a-f]{32}$")

        def lines_of(process, request_id):
            return [o for o in json_lines(process) if o.get("request_id") == request_id]

        for request_id in (rid, made_up):
            gw = poll(lambda: lines_of(self.c.gateway, request_id), what="the gateway's line")
            wk = poll(lambda: lines_of(self.c.workers[0], request_id), what="the worker's line")
            self.assertTrue(any("/jwks.json" in o["message"] for o in gw), gw)
            self.assertTrue(any("GET /jwks.json -> 200" in o["message"] for o in wk), wk)
        # Every line of both processes is a JSON object with time, level and message.
        for p in (self.c.gateway, self.c.workers[0]):
            objs = json_lines(p)
            self.assertGreater(len(objs), 3, p.name)
            for o in objs:
                self.assertRegex(o.get("time", ""),
                                 r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o)
                self.assertIn(o.get("level"), ("trace", "debug", "info", "warn", "error",
                                               "critical"), o)
                self.assertIsInstance(o.get("message"), str, o)
        # Lines of other requests do not carry this one's id.
        other = [o for o in json_lines(self.c.workers[0])
                 if o.get("request_id") == rid and "openid-configuration" in o["message"]]
        self.assertEqual([], other)
        self.assertTrue(re.search(r"worker is running", " ".join(
            o["message"] for o in json_lines(self.c.workers[0]))))


if __name__ == "__main__":
    unittest.main(verbosity=2)
