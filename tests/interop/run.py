"""Runs one interop suite against a fresh Habanero:
    run.py node|go|authlib|negative|password|indieauth|dpop|solid

node and go: starts the server, registers a confidential client, a public client and a user
with the CLI, runs the suite's own test runner (node --test / go test) with them in the
environment, and stops the server. authlib, negative, password, indieauth (IndieAuth with the
PyPI indieweb-utils client, in its own venv), dpop (DPoP / WebID / client documents) and solid
(Community Solid Server + Inrupt's client) are unittest modules that start their own servers. Run through tests/interop/run.sh, which installs the clients first.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import habanero_interop as hi  # noqa: E402

CACHE = os.environ.get("HABANERO_INTEROP_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "habanero", "interop")


def registered_server():
    """A server with the user, "rp" (confidential) and "rp-public"; returns (server, env)."""
    server = hi.Habanero()
    try:
        server.add_user(hi.USER_EMAIL, hi.USER_PASSWORD, name=hi.USER_NAME)
        secret = server.add_client(
            "rp", redirect_uris=[hi.REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            scopes="openid profile email offline_access", name="Interop RP")
        server.add_client("rp-public", public=True, redirect_uris=[hi.LOOPBACK_REDIRECT_URI],
                          grant_types=["authorization_code", "refresh_token"],
                          scopes="openid profile email offline_access", name="Interop app")
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        server.stop()
        raise
    env = dict(os.environ,
               HABANERO_ISSUER=server.issuer,
               RP_CLIENT_ID="rp", RP_CLIENT_SECRET=secret, RP_REDIRECT_URI=hi.REDIRECT_URI,
               PUBLIC_CLIENT_ID="rp-public", PUBLIC_REDIRECT_URI=hi.LOOPBACK_REDIRECT_URI,
               USER_EMAIL=hi.USER_EMAIL, USER_PASSWORD=hi.USER_PASSWORD)
    return server, env


def run_client(command, cwd, env):
    server, server_env = registered_server()
    env = dict(server_env, **env)
    try:
        print(">> %s (issuer %s)" % (" ".join(command), server.issuer), flush=True)
        code = subprocess.run(command, cwd=cwd, env=env, timeout=540).returncode
    finally:
        server.stop()
    if code != 0:
        print("---- server log (last lines) ----\n" + server.log_tail(120), flush=True)
    return code


def run_node():
    modules = os.path.join(CACHE, "node", "node_modules")
    if not os.path.isdir(modules):
        sys.exit("no %s: run scripts/setup-interop.sh" % modules)
    work = tempfile.mkdtemp(prefix="habanero-interop-node-")
    try:
        for f in ("openid_client.test.mjs", "browser.mjs", "package.json"):
            shutil.copy(os.path.join(HERE, "node", f), work)
        os.symlink(modules, os.path.join(work, "node_modules"))
        return run_client(["node", "--test", "--test-concurrency=1",
                           os.path.join(work, "openid_client.test.mjs")], work, {})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_go():
    go = os.path.join(CACHE, "go")
    if not os.path.isdir(os.path.join(go, "mod")):
        sys.exit("no %s/mod: run scripts/setup-interop.sh" % go)
    env = {"GOMODCACHE": os.path.join(go, "mod"), "GOCACHE": os.path.join(go, "build"),
           "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local",
           "GOPROXY": "off", "GOSUMDB": "off"}
    return run_client(["go", "test", "-count=1", "-v", "./..."], os.path.join(HERE, "go"), env)


def run_unittest(module):
    suite = unittest.defaultTestLoader.loadTestsFromName(module)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    suite = sys.argv[1]
    if suite == "node":
        return run_node()
    if suite == "go":
        return run_go()
    if suite in ("authlib", "negative", "password", "indieauth", "dpop", "solid"):
        return run_unittest(suite + "_test")
    sys.exit("unknown suite %r\n%s" % (suite, __doc__))


if __name__ == "__main__":
    sys.exit(main())
