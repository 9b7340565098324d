"""Prepares the extensions of the edge program the tests build (tests/edge/build.sh):

    prepare.py WASM_DIR OUT_DIR

writes OUT_DIR/wasm/ (the modules and manifests the package embeds) and
OUT_DIR/extensions.toml (the operator's file build.rs reads), with
  * the production set (oauth2 at /, password at /login/password, hello at /hello), and
  * every setup of tests/conformance/cases.json, when it exists: its probe module copied to
    <setup>.wasm with the manifest's name changed, mounted at /<setup> with the setup's
    grants and memory (the ABI conformance suite's "Running against another host").
A setup's deadline_ms becomes a fuel budget of 100 000 instructions per millisecond (the edge
has no wall-clock deadline; the default, 1000 ms, is the edge's default of 100 M). Setups
that must be refused are deployed too: `refused = "unavailable"` makes them answer 503.
"""
import json
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "..", "conformance", "cases.json")

PRODUCTION = [
    ("oauth2", "/", ["http", "log", "kv", "crypto", "keys", "clock", "settings", "sessions",
                     "users", "clients", "fetch"]),
    ("password", "/login/password", ["http", "log", "kv", "crypto", "clock", "login", "users",
                                     "settings"]),
    ("hello", "/hello", ["http", "log", "kv", "settings"]),
]
# Fuel (about one Wasm instruction each) per millisecond of a setup's deadline_ms.
FUEL_PER_MS = 100_000


def toml_list(items):
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def copy_module(wasm_dir, out, probe, name):
    src = os.path.join(wasm_dir, probe + ".wasm")
    if not os.path.exists(src):
        raise SystemExit("prepare.py: %s is missing (build the guests first)" % src)
    shutil.copy(src, os.path.join(out, name + ".wasm"))
    with open(os.path.join(wasm_dir, probe + ".manifest.toml")) as f:
        manifest = f.read()
    manifest = re.sub(r'^name\s*=\s*"[^"]*"', 'name = "%s"' % name, manifest, count=1, flags=re.M)
    with open(os.path.join(out, name + ".manifest.toml"), "w") as f:
        f.write(manifest)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    wasm_dir, out_dir = sys.argv[1], sys.argv[2]
    wasm_out = os.path.join(out_dir, "wasm")
    shutil.rmtree(wasm_out, ignore_errors=True)
    os.makedirs(wasm_out)
    # What the edge does not serve goes to the backend "origin" (edge_test.py points it at a
    # native server on the same data directory).
    text = '# Written by tests/edge/prepare.py.\nrefused = "unavailable"\norigin = "origin"\n'
    for name, mount, grants in PRODUCTION:
        copy_module(wasm_dir, wasm_out, name, name)
        text += '\n[[extensions]]\nname = "%s"\nmount = "%s"\ngrants = %s\n' % (
            name, mount, toml_list(grants))
    if os.path.exists(CASES):
        with open(CASES) as f:
            setups = json.load(f)["setups"]
        for name, s in sorted(setups.items()):
            copy_module(wasm_dir, wasm_out, s["probe"], name)
            text += '\n[[extensions]]\nname = "%s"\nmount = "/%s"\ngrants = %s\n' % (
                name, name, toml_list(s.get("grants", [])))
            if "memory_mb" in s:
                text += "memory_mb = %d\n" % s["memory_mb"]
            if "deadline_ms" in s:
                text += "fuel = %d\n" % (s["deadline_ms"] * FUEL_PER_MS)
    with open(os.path.join(out_dir, "extensions.toml"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
