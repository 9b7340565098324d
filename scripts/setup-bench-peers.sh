#!/usr/bin/env bash
# Installs what the comparison benchmark (scripts/bench-peers.sh, docs/performance.md) needs,
# skipping whatever is already there. Idempotent; a new machine ends up with everything.
#
#   scripts/setup-bench-peers.sh        prints nothing but progress; exits non-zero on failure
#
# Debian packages (apt): wrk, nginx-light (the floor), maven + a Java 17 runtime (Keycloak),
# golang-go only when no `go` is on PATH (bench/loadgen), nodejs/npm only when missing.
# Into $BENCH_CACHE (default ~/.cache/habanero/bench):
#   keycloak-<version>/         Keycloak (org.keycloak:keycloak-quarkus-dist, zip) fetched with
#                               `mvn dependency:copy` from Maven's default repository, unpacked
#                               and pre-built (`kc.sh build`) for its embedded dev-file database
#   node-oidc-provider/         bench/peers/node-oidc-provider/{package.json,package-lock.json,
#                               server.mjs} + `npm ci` (re-run when the lock file changes)
#   venv/                       Python venv with matplotlib (charts)
#   bin/loadgen                 bench/loadgen built with `go build` (standard library only)
#   hydra-<version>-<key>/hydra Ory Hydra (github.com/ory/hydra/v2), built from the Go module proxy's
#                               copy: `go install` refuses it (replace directives in its go.mod), so
#                               `go mod download` the module, drop the replace that points at the
#                               absent internal/httpclient, and `go build -tags sqlite` (cgo; its
#                               `dsn: memory` is an in-memory SQLite). Key: version + `go version`.
#   bin/hydra-login-consent     bench/peers/hydra: the login/consent app Hydra needs
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${BENCH_CACHE:-$HOME/.cache/habanero/bench}
keycloak_version=${KEYCLOAK_VERSION:-26.4.7}   # the newest 26.4 patch; runs on Java 17
matplotlib_version=3.10.7
mkdir -p "$cache/bin"
log() { echo ">> setup-bench-peers: $*" >&2; }

# --- Debian packages ------------------------------------------------------------
packages=(wrk nginx-light maven openjdk-17-jre-headless unzip python3-venv)
command -v go >/dev/null || packages+=(golang-go)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK or JRE 17 from elsewhere (e.g. a JAVA_HOME) is fine too.
if [[ " ${missing[*]} " == *" openjdk-17-jre-headless "* ]] \
   && java -version 2>&1 | grep -q 'version "17'; then
  missing=("${missing[@]/openjdk-17-jre-headless}")
fi
if [[ " ${missing[*]} " == *" python3-venv "* ]] && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  missing=("${missing[@]/python3-venv}")
fi
read -r -a missing <<<"${missing[*]}"
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
    $sudo apt-get update -q >&2
  fi
  # nginx's postinst would start the distribution's site on port 80: we run our own instance.
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
node_major=$(node -p 'process.versions.node.split(".").map(Number).join(" ")' 2>/dev/null || echo "0 0 0")
read -r nmaj nmin _ <<<"$node_major"
if ((nmaj < 20 || (nmaj == 20 && nmin < 19))); then
  echo "setup-bench-peers: oidc-provider 9 needs Node.js >= 20.19 (found $(node --version 2>/dev/null))" >&2
  exit 1
fi

# --- Keycloak -------------------------------------------------------------------
kc="$cache/keycloak-$keycloak_version"
if [[ ! -x $kc/bin/kc.sh || ! -f $kc/.habanero-built ]]; then
  zip="$cache/dl/keycloak-quarkus-dist-$keycloak_version.zip"
  if [[ ! -f $zip ]]; then
    log "fetching org.keycloak:keycloak-quarkus-dist:$keycloak_version (mvn dependency:copy)"
    mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$keycloak_version:zip" \
      -DoutputDirectory="$cache/dl" >&2
  fi
  rm -rf "$kc" "$cache/kc-unpack"
  mkdir -p "$cache/kc-unpack"
  unzip -q "$zip" -d "$cache/kc-unpack"
  mv "$cache/kc-unpack/keycloak-$keycloak_version" "$kc"
  rmdir "$cache/kc-unpack"
  log "building Keycloak for its embedded database (kc.sh build --db=dev-file)"
  "$kc/bin/kc.sh" build --db=dev-file --health-enabled=true >"$cache/keycloak-build.log" 2>&1 \
    || { cat "$cache/keycloak-build.log" >&2; exit 1; }
  touch "$kc/.habanero-built"
fi

# --- node-oidc-provider -----------------------------------------------------------
nop_src="$root/bench/peers/node-oidc-provider"
nop="$cache/node-oidc-provider"
mkdir -p "$nop"
if ! cmp -s "$nop_src/package-lock.json" "$nop/package-lock.json" || [[ ! -d $nop/node_modules ]]; then
  log "npm ci (node-oidc-provider)"
  cp "$nop_src/package.json" "$nop_src/package-lock.json" "$nop/"
  (cd "$nop" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
cp "$nop_src/server.mjs" "$nop/server.mjs"

# --- matplotlib -------------------------------------------------------------------
venv="$cache/venv"
if ! "$venv/bin/python" -c "import matplotlib; assert matplotlib.__version__ == '$matplotlib_version'" 2>/dev/null; then
  log "matplotlib $matplotlib_version into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "matplotlib==$matplotlib_version" >&2
fi

# --- the load generator for the authorization-code flow -------------------------
loadgen_src="$root/bench/loadgen"
if [[ ! -x $cache/bin/loadgen || -n $(find "$loadgen_src" -newer "$cache/bin/loadgen" -type f 2>/dev/null) ]]; then
  log "go build bench/loadgen"
  (cd "$loadgen_src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$cache/bin/loadgen" . >&2)
fi
# --- Ory Hydra and its login/consent app -----------------------------------------------
hydra_version=${HYDRA_VERSION:-v2.3.0}
hydra_key=$( (echo "hydra $hydra_version"; go version) | sha256sum | cut -c1-12)
hydra="$cache/hydra-$hydra_version-$hydra_key"
if [[ ! -x $hydra/hydra ]]; then
  log "building Ory Hydra $hydra_version (several minutes the first time)"
  src=$(GOFLAGS=-mod=mod go mod download -json "github.com/ory/hydra/v2@$hydra_version" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  rm -rf "$cache/hydra-src" "$hydra.tmp"
  cp -r "$src" "$cache/hydra-src"
  chmod -R u+w "$cache/hydra-src"
  (cd "$cache/hydra-src" \
   && go mod edit -dropreplace github.com/ory/hydra-client-go/v2 \
   && GOFLAGS=-mod=mod CGO_ENABLED=1 nice -n 10 go build -tags sqlite,sqlite_omit_load_extension \
        -o "$hydra.tmp/hydra" . >&2)
  rm -rf "$hydra" "$cache/hydra-src"
  mv "$hydra.tmp" "$hydra"
fi
lc_src="$root/bench/peers/hydra"
if [[ ! -x $cache/bin/hydra-login-consent || -n $(find "$lc_src" -newer "$cache/bin/hydra-login-consent" -type f 2>/dev/null) ]]; then
  log "go build bench/peers/hydra (Hydra's login/consent app)"
  (cd "$lc_src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$cache/bin/hydra-login-consent" . >&2)
fi
log "ready in $cache"
