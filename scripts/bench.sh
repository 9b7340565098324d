#!/usr/bin/env bash
# Runs the benchmarks of a build directory (configured with HABANERO_BUILD_BENCH=ON,
# CMAKE_BUILD_TYPE=Release; `make bench` does both) and writes the figures to
# BUILD_DIR/bench-results.json. docs/performance.md explains them.
#
#   scripts/bench.sh BUILD_DIR
#
# 1. BUILD_DIR/bench/runtime_bench: Google Benchmark, medians over repetitions.
# 2. wrk against `habanero serve` started here on 127.0.0.1 (a free port, a
#    temporary data directory, the default extensions: hello at /hello, oauth2 at /):
#    GET /healthz (native), GET /hello/ (extension) and POST /token (oauth2:
#    client_credentials with client_secret_basic, ES256 JWT access tokens, for a client
#    `bench` registered with `habanero client add` before the server starts).
#    The server is stopped on exit, whatever happens.
#
# Environment (all optional):
#   BENCH_QUICK=1       1 repetition and 3 s wrk runs unless set below
#   BENCH_REPETITIONS   Google Benchmark repetitions (5)
#   BENCH_FILTER        --benchmark_filter regex (all)
#   WRK_SECONDS         duration of each measured wrk run (10); a 2 s warm-up precedes it
#   WRK_THREADS WRK_CONNECTIONS   (2, 32)
set -euo pipefail

build=${1:?usage: scripts/bench.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
bench_bin="$build/bench/runtime_bench"
server_bin="$build/src/cli/habanero"
out="$build/bench-results.json"
quick=${BENCH_QUICK:-0}
[[ $quick == 0 || -z $quick ]] && quick="" || quick=1
reps=${BENCH_REPETITIONS:-${quick:+1}}
reps=${reps:-5}
filter=${BENCH_FILTER:-.}
wrk_seconds=${WRK_SECONDS:-${quick:+3}}
wrk_seconds=${wrk_seconds:-10}
wrk_threads=${WRK_THREADS:-2}
wrk_conns=${WRK_CONNECTIONS:-32}

for f in "$bench_bin" "$server_bin"; do
  [[ -x $f ]] || { echo "bench.sh: $f not built (run \`make bench\`)" >&2; exit 1; }
done
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "bench.sh: $tool missing (scripts/setup.sh bench)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/habanero-bench.XXXXXX)
server_pid=""
load_pid=""   # the wrk run in progress

stop_server() {
  [[ -n $server_pid ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # Graceful stop; SIGKILL if it has not exited after 15 s.
    for _ in $(seq 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid" 2>/dev/null
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  [[ -z $load_pid ]] || kill -TERM "$load_pid" 2>/dev/null || true
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. Google Benchmark -----------------------------------------------------
bench_cmd=("$bench_bin" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true
           --benchmark_filter="$filter")
echo ">> ${bench_cmd[*]}"
"${bench_cmd[@]}" --benchmark_out="$tmp/gbench.json" --benchmark_out_format=json

# --- 2. wrk against a real server ----------------------------------------------
# A confidential client for POST /token, registered in the data directory before the
# server opens it; `client add` prints the generated secret once ("client_secret: …").
client_cmd=("$server_bin" client add --id bench --grant-types client_credentials --scopes "read"
            --data-dir "$tmp/data")
echo ">> ${client_cmd[*]}"
client_out=$(env $(env | awk -F= '/^HABANERO_/ {printf "-u %s ", $1}') "${client_cmd[@]}" 2>&1) \
  || { echo "bench.sh: client add failed:" >&2; echo "$client_out" >&2; exit 1; }
client_secret=$(sed -n 's/^client_secret: *\([^ ]*\)$/\1/p' <<<"$client_out" | head -1)
[[ -n $client_secret ]] \
  || { echo "bench.sh: no client_secret in the output of client add:" >&2; echo "$client_out" >&2; exit 1; }

# Port 0: the server picks a free port and prints it in its issuer URL.
server_cmd=("$server_bin" serve --listen 127.0.0.1:0 --data-dir "$tmp/data")
echo ">> ${server_cmd[*]}"
# Only the defaults and these flags configure it: no HABANERO_* from the caller.
: >"$tmp/server.log"  # exists before the polling below (the child opens it asynchronously)
env $(env | awk -F= '/^HABANERO_/ {printf "-u %s ", $1}') "${server_cmd[@]}" \
  >>"$tmp/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 300); do  # up to 30 s (the first start compiles hello.wasm)
  port=$(sed -n 's|^ *issuer: *https\?://[^:]*:\([0-9]\+\).*|\1|p' "$tmp/server.log" | head -1)
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z $port ]] || ! curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/healthz"; then
  echo "bench.sh: the server did not come up; its output:" >&2
  cat "$tmp/server.log" >&2
  exit 1
fi
curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/hello/" \
  || { echo "bench.sh: GET /hello/ failed" >&2; cat "$tmp/server.log" >&2; exit 1; }
# One token request by hand: it must succeed and give an ES256-signed JWT (a failed grant
# would otherwise only show up as wrk status errors).
curl -sS --max-time 10 -u "bench:$client_secret" -o "$tmp/token.json" -w '%{http_code}' \
  -d grant_type=client_credentials -d scope=read "http://127.0.0.1:$port/token" \
  >"$tmp/token.status" || true
python3 - "$tmp/token.json" "$(cat "$tmp/token.status")" <<'PY' \
  || { echo "bench.sh: POST /token failed; server log:" >&2; tail -20 "$tmp/server.log" >&2; exit 1; }
import base64, json, sys
status, body = sys.argv[2], open(sys.argv[1]).read()
if status != "200":
    sys.exit(f"bench.sh: POST /token returned {status}: {body}")
token = json.loads(body)["access_token"]
seg = token.split(".")[0]
header = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
if token.count(".") != 2 or header.get("alg") != "ES256":
    sys.exit(f"bench.sh: the access token is not an ES256 JWT (header {header})")
print(f">> POST /token: 200, access token {len(token)} bytes, header {json.dumps(header)}")
PY

run_wrk() {  # name path [script [script arguments…]]
  local name=$1 path=$2 url="http://127.0.0.1:$port$2"
  local script=${3:-$root/bench/wrk_report.lua}
  local script_args=("${@:4}")
  [[ ${#script_args[@]} -eq 0 ]] || script_args=(-- "${script_args[@]}")
  local cmd=(wrk -t"$wrk_threads" -c"$wrk_conns" -d"${wrk_seconds}s" --latency
             -s "$script" "$url" "${script_args[@]}")
  # In the background + wait, so a signal stops the load at once (see cleanup).
  timeout 30 wrk -t"$wrk_threads" -c"$wrk_conns" -d2s -s "$script" "$url" "${script_args[@]}" \
    >/dev/null &  # warm-up
  load_pid=$!
  wait "$load_pid"
  echo ">> ${cmd[*]/$client_secret/SECRET}"
  timeout $((wrk_seconds + 30)) "${cmd[@]}" >"$tmp/wrk-$name.txt" &
  load_pid=$!
  wait "$load_pid"
  load_pid=""
  grep -v '^HABANERO_WRK' "$tmp/wrk-$name.txt"
  grep '^HABANERO_WRK ' "$tmp/wrk-$name.txt" | sed 's/^HABANERO_WRK //' >"$tmp/wrk-$name.json"
}
run_wrk healthz /healthz
run_wrk hello /hello/
run_wrk token /token "$root/bench/wrk_token.lua" bench "$client_secret"
stop_server

# --- 3. Results ----------------------------------------------------------------
python3 - "$tmp" "$out" "${bench_cmd[*]}" "${server_cmd[*]}" \
  "wrk -t$wrk_threads -c$wrk_conns -d${wrk_seconds}s --latency -s bench/wrk_report.lua URL" \
  "${client_cmd[*]}" \
  "wrk -t$wrk_threads -c$wrk_conns -d${wrk_seconds}s --latency -s bench/wrk_token.lua URL/token -- bench SECRET" \
  <<'PY'
import json, os, platform, sys, time

tmp, out, bench_cmd, server_cmd, wrk_cmd, client_cmd, wrk_token_cmd = sys.argv[1:8]
GOAL_NS = 10_000

def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()

def mem_total_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    return 0

g = json.load(open(os.path.join(tmp, "gbench.json")))
scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
micro = {}
has_aggregates = any(b.get("run_type") == "aggregate" for b in g["benchmarks"])
for b in g["benchmarks"]:
    if b.get("error_occurred"):
        continue
    if has_aggregates:
        if b.get("run_type") != "aggregate":
            continue
        name, agg = b["run_name"], b["aggregate_name"]
    else:  # one repetition: its only run stands for the median
        name, agg = b["run_name"], "median"
    k = scale[b.get("time_unit", "ns")]
    entry = micro.setdefault(name, {})
    if agg in ("median", "mean", "stddev"):
        entry[f"{agg}_real_ns"] = round(b["real_time"] * k, 2)
        entry[f"{agg}_cpu_ns"] = round(b["cpu_time"] * k, 2)
        if agg == "median" and "minflt" in b:
            entry["median_minor_faults"] = round(b["minflt"], 2)  # per iteration
    elif agg == "cv":
        entry["cv_real"] = round(b["real_time"], 4)

def median(name, kind="real"):
    return micro.get(name, {}).get(f"median_{kind}_ns")

overhead = None
native, ext = median("BM_Native_NoopRoute"), median("BM_Extension_NoopRoundTrip")
if native is not None and ext is not None:
    overhead = {
        "real_ns": round(ext - native, 1),
        "cpu_ns": round(median("BM_Extension_NoopRoundTrip", "cpu")
                        - median("BM_Native_NoopRoute", "cpu"), 1),
        "goal_ns": GOAL_NS,
        "goal_met": ext - native <= GOAL_NS,
    }

http = {}
for name in ("healthz", "hello", "token"):
    p = os.path.join(tmp, f"wrk-{name}.json")
    if os.path.exists(p) and os.path.getsize(p):
        http[name] = json.load(open(p))

results = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "machine": {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "mem_total_kib": mem_total_kib(),
        "kernel": platform.release(),
        "load_average": g["context"].get("load_avg"),
        "shared": True,
    },
    "commands": {"benchmark": bench_cmd, "server": server_cmd, "wrk": wrk_cmd,
                 "client": client_cmd, "wrk_token": wrk_token_cmd},
    "library_build_type": g["context"].get("library_build_type"),
    "microbenchmarks": micro,
    "extension_minus_native": overhead,
    "http": http,
}
with open(out, "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")

print()
print("== Summary (medians over repetitions; wall time, CPU time) ==")
for name, e in micro.items():
    print(f"  {name:34s} {e.get('median_real_ns', 0):>12,.1f} ns {e.get('median_cpu_ns', 0):>12,.1f} ns"
          f"   cv {100 * e.get('cv_real', 0):4.1f}%   page faults {e.get('median_minor_faults', 0):.1f}")
if overhead:
    verdict = "MET" if overhead["goal_met"] else "MISSED"
    print(f"  extension - native (noop): {overhead['real_ns'] / 1000:.2f} us wall,"
          f" {overhead['cpu_ns'] / 1000:.2f} us CPU; goal <= 10 us: {verdict}")
for name, w in http.items():
    lat = w["latency_us"]
    errs = sum(w["errors"].values())
    print(f"  wrk {name:8s} {w['requests_per_s']:>10,.0f} req/s  latency p50 {lat['p50']} us"
          f"  p90 {lat['p90']} us  p99 {lat['p99']} us  errors {errs}")
print(f"  results: {out}")
PY
