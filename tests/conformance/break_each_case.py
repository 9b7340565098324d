#!/usr/bin/env python3
"""Checks that every conformance case can fail: breaks one expected value in each
case of cases.json (the first step's result code, else the body, else the status,
else the load-error fragment), runs the suite binary on the broken copy and requires
every case to fail.

    break_each_case.py <abi_conformance_test binary> [cases.json]
"""
import json
import os
import re
import subprocess
import sys
import tempfile


def break_case(case):
    """Changes one expectation of `case` in place; returns what it changed."""
    if "load_error" in case:
        case["load_error"] = ["no such fragment (broken on purpose)"]
        return "load_error"
    expect = case["exchanges"][-1].setdefault("expect", {})
    for i, step in enumerate(expect.get("steps", [])):
        if "result" in step:
            step["result"] = "NOT_FOUND" if step["result"] != "NOT_FOUND" else "OK"
            return f"steps[{i}].result"
        if "value" in step:
            step["value"] = 123456789
            return f"steps[{i}].value"
    if "body" in expect:
        expect["body"] = "broken on purpose"
        return "body"
    expect["status"] = expect.get("status", 200) + 1
    return "status"


def main():
    binary = sys.argv[1]
    cases_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "cases.json")
    with open(cases_path) as f:
        suite = json.load(f)
    broken = {c["name"]: break_case(c) for c in suite["cases"]}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "cases.json")
        with open(path, "w") as f:
            json.dump(suite, f)
        env = dict(os.environ, HABANERO_CONFORMANCE_CASES=path)
        out = subprocess.run([binary, "--gtest_brief=1"], env=env, capture_output=True,
                             text=True, timeout=600).stdout
    failed = set(re.findall(r"^\[  FAILED  \] \w+\.(\w+)", out, re.M))
    passed = [n for n in broken if n not in failed]
    for n in passed:
        print(f"case {n} still passes with its {broken[n]} broken: it cannot fail")
    print(f"{len(broken) - len(passed)} of {len(broken)} cases fail when broken")
    return 1 if passed or not broken else 0


if __name__ == "__main__":
    sys.exit(main())
