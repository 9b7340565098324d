"""The Helm chart (deploy/helm/habanero) means what it promises: `helm lint` passes, and the
manifests `helm template` renders wire a gateway Deployment to a worker Deployment the way
docs/cluster.md describes (roles, the headless worker Service as the gateway's worker list,
probes on the right ports and paths, Secrets behind the database URL and the KEK, the
migration Job, HPAs and PDBs aimed at the right Deployments and pods).

Run with the helm binary as argv[1] (scripts/build-helm.sh prints it; ctest passes it).
"""
import os
import subprocess
import sys
import tempfile
import tomllib
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CHART = os.path.normpath(os.path.join(HERE, "..", "..", "deploy", "helm", "habanero"))
HELM = None

VALUES = ["--set", "issuer=https://login.example.com",
          "--set", "database.url=postgres://habanero:pw@db:5432/habanero",
          "--set", "keys.kek=c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=",
          "--namespace", "auth"]


def helm(*args, check=True):
    out = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=120)
    if check and out.returncode != 0:
        raise AssertionError("helm %s failed:\n%s%s" % (" ".join(args), out.stdout, out.stderr))
    return out


def render(*extra):
    text = helm("template", "hab", CHART, *VALUES, *extra).stdout
    docs = [d for d in yaml.safe_load_all(text) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    return by_kind


def container(deployment):
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


class Chart(unittest.TestCase):
    def test_lint(self):
        out = helm("lint", CHART, *VALUES[:-2])
        self.assertIn("0 chart(s) failed", out.stdout)

    def test_required_values_fail_clearly(self):
        out = helm("template", "hab", CHART, check=False)
        self.assertNotEqual(0, out.returncode)
        self.assertIn("issuer is required", out.stderr)
        out = helm("template", "hab", CHART, "--set", "issuer=https://x", check=False)
        self.assertNotEqual(0, out.returncode)
        self.assertIn("database.url and keys.kek are required", out.stderr)

    def test_roles_and_wiring(self):
        m = render()
        gw = m["Deployment"]["hab-habanero-gateway"]
        wk = m["Deployment"]["hab-habanero-worker"]
        self.assertEqual(["serve", "--role", "gateway", "--config", "/etc/habanero/habanero.toml"],
                         container(gw)["args"])
        self.assertEqual(["serve", "--role", "worker", "--config", "/etc/habanero/habanero.toml"],
                         container(wk)["args"])
        # Each Deployment selects its own pods, and only those.
        for d in (gw, wk):
            sel = d["spec"]["selector"]["matchLabels"]
            labels = d["spec"]["template"]["metadata"]["labels"]
            self.assertTrue(sel.items() <= labels.items())
        self.assertNotEqual(gw["spec"]["selector"]["matchLabels"],
                            wk["spec"]["selector"]["matchLabels"])

        # The configuration: the gateway's worker list is the headless worker Service's DNS
        # name on the workers' gRPC port; the issuer is the public URL.
        conf = tomllib.loads(m["ConfigMap"]["hab-habanero"]["data"]["habanero.toml"])
        self.assertEqual("https://login.example.com", conf["server"]["issuer"])
        svc = m["Service"]["hab-habanero-worker"]
        self.assertEqual("None", str(svc["spec"]["clusterIP"]))
        self.assertEqual(wk["spec"]["selector"]["matchLabels"], svc["spec"]["selector"])
        grpc_port = container(wk)["ports"][0]["containerPort"]
        self.assertEqual("hab-habanero-worker.auth.svc.cluster.local:%d" % grpc_port,
                         conf["cluster"]["workers"])
        self.assertEqual("0.0.0.0:%d" % grpc_port, conf["cluster"]["listen"])
        http_port = container(gw)["ports"][0]["containerPort"]
        self.assertEqual("0.0.0.0:%d" % http_port, conf["server"]["listen"])
        front = m["Service"]["hab-habanero"]
        self.assertEqual(gw["spec"]["selector"]["matchLabels"], front["spec"]["selector"])
        self.assertEqual("http", front["spec"]["ports"][0]["targetPort"])

        # Probes: the gateway's HTTP /healthz and /readyz; the workers' on their probe
        # listener (cluster.probe_listen), a port of its own beside the gRPC one.
        g = container(gw)
        self.assertEqual("/healthz", g["livenessProbe"]["httpGet"]["path"])
        self.assertEqual("/readyz", g["readinessProbe"]["httpGet"]["path"])
        w = container(wk)
        ports = {p["name"]: p["containerPort"] for p in w["ports"]}
        self.assertEqual(grpc_port, ports["grpc"])
        self.assertNotEqual(ports["grpc"], ports["probes"])
        self.assertEqual("0.0.0.0:%d" % ports["probes"], conf["cluster"]["probe_listen"])
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"),
                            ("startupProbe", "/healthz")):
            self.assertEqual({"path": path, "port": "probes"}, w[probe]["httpGet"], probe)
        # Scrapers find /metrics on each role's HTTP port.
        for d, port in ((gw, http_port), (wk, ports["probes"])):
            ann = d["spec"]["template"]["metadata"]["annotations"]
            self.assertEqual(("true", str(port), "/metrics"), (
                ann["prometheus.io/scrape"], ann["prometheus.io/port"],
                ann["prometheus.io/path"]))
        self.assertEqual("json", conf["log"]["format"])
        # SIGTERM drains: the pod waits longer than the worker's grace.
        grace_s = wk["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        self.assertGreater(grace_s * 1000, conf["server"]["shutdown_grace_ms"])

    def test_extra_config_joins_the_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump({"extraConfig": '[[extensions]]\nname = "oauth2"\nmodule = '
                                           '"oauth2.wasm"\nmount = "/"\n'}, f)
        try:
            m = render("-f", f.name)
        finally:
            os.unlink(f.name)
        conf = tomllib.loads(m["ConfigMap"]["hab-habanero"]["data"]["habanero.toml"])
        self.assertEqual([{"name": "oauth2", "module": "oauth2.wasm", "mount": "/"}],
                         conf["extensions"])
        self.assertEqual(1, conf["cluster"]["min_workers"])

    def test_secrets(self):
        m = render()
        secret = m["Secret"]["hab-habanero"]
        self.assertEqual("postgres://habanero:pw@db:5432/habanero",
                         secret["stringData"]["store-url"])
        for name in ("hab-habanero-gateway", "hab-habanero-worker"):
            env = {e["name"]: e for e in container(m["Deployment"][name])["env"]}
            for var, key in (("HABANERO_STORE_URL", "store-url"), ("HABANERO_KEYS_KEK", "kek")):
                ref = env[var]["valueFrom"]["secretKeyRef"]
                self.assertEqual("hab-habanero", ref["name"])
                self.assertIn(key, secret["stringData"])
                self.assertEqual(key, ref["key"])
        # The configuration holds no secret.
        conf = m["ConfigMap"]["hab-habanero"]["data"]["habanero.toml"]
        self.assertNotIn("pw@db", conf)
        # An existing Secret replaces the chart's.
        m = render("--set", "existingSecret=prod-db", "--set", "database.url=",
                   "--set", "keys.kek=")
        self.assertNotIn("Secret", m)
        env = {e["name"]: e for e in container(m["Deployment"]["hab-habanero-worker"])["env"]}
        self.assertEqual("prod-db", env["HABANERO_STORE_URL"]["valueFrom"]["secretKeyRef"]["name"])

    def test_migration_job(self):
        m = render()
        (job,) = m["Job"].values()
        c = job["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual("migrate", c["args"][0])
        self.assertEqual(container(m["Deployment"]["hab-habanero-worker"])["image"], c["image"])
        self.assertIn("HABANERO_STORE_URL", [e["name"] for e in c["env"]])
        self.assertNotIn("Job", render("--set", "migration.enabled=false"))

    def test_autoscaling_and_disruption_budgets(self):
        m = render()
        for role in ("gateway", "worker"):
            dep = m["Deployment"]["hab-habanero-" + role]
            hpa = m["HorizontalPodAutoscaler"]["hab-habanero-" + role]
            self.assertEqual({"apiVersion": "apps/v1", "kind": "Deployment",
                              "name": dep["metadata"]["name"]}, hpa["spec"]["scaleTargetRef"])
            self.assertNotIn("replicas", dep["spec"])  # the HPA owns the count
            self.assertGreaterEqual(hpa["spec"]["minReplicas"], 2)
            pdb = m["PodDisruptionBudget"]["hab-habanero-" + role]
            self.assertEqual(dep["spec"]["selector"]["matchLabels"],
                             pdb["spec"]["selector"]["matchLabels"])
            self.assertEqual(1, pdb["spec"]["minAvailable"])
        m = render("--set", "worker.autoscaling.enabled=false", "--set", "worker.replicas=3")
        self.assertEqual(3, m["Deployment"]["hab-habanero-worker"]["spec"]["replicas"])
        self.assertNotIn("hab-habanero-worker", m["HorizontalPodAutoscaler"])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: helm_test.py HELM")
    HELM = sys.argv.pop(1)
    unittest.main(verbosity=2)
