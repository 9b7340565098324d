"""Runs one cluster suite:
    run.py faults   cluster_test.py: forwarding, flows, SIGTERM drain, SIGKILL under load,
                    no worker (tests/cluster/cluster_test.py)
    run.py ops      ops_cluster_test.py: metrics on every role, the worker's probe listener,
                    JSON logs with the request id on the gateway and the worker
    run.py node     openid-client's suite (tests/interop/node) through a gateway in front of
                    two workers, with the interop harness's registrations
"""
import importlib.util
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "interop"))

import cluster  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "interop_run", os.path.join(HERE, "..", "interop", "run.py"))
interop_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(interop_run)


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("faults", "ops", "node"):
        sys.exit(__doc__)
    if sys.argv[1] in ("faults", "ops"):
        module = "cluster_test" if sys.argv[1] == "faults" else "ops_cluster_test"
        suite = unittest.defaultTestLoader.loadTestsFromName(module)
        result = unittest.TextTestRunner(verbosity=2).run(suite)
        return 0 if result.wasSuccessful() and result.testsRun > 0 else 1
    # The interop runner registers its user and clients on whatever hi.Habanero() returns:
    # here a cluster, whose gateway is the issuer.
    interop_run.hi.Habanero = lambda: cluster.Cluster(workers=2, spares=0)
    return interop_run.run_node()


if __name__ == "__main__":
    sys.exit(main())
