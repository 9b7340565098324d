#!/usr/bin/env bash
# Installs the real components that tests/e2e starts: an SMTP server, an SMS gateway and a
# browser, from Debian's packages and npm with their ordinary clients. Idempotent: packages
# already installed are skipped; the npm part is keyed by the lock files in tests/e2e and is
# reinstalled only when they change.
#
#   scripts/setup-e2e.sh            install what is missing or stale; print the cache dir
#
#   Debian   python3-aiosmtpd          SMTP server writing to a Maildir (Debian's python3)
#            kannel, kannel-extras     bearerbox + smsbox, and fakesmsc (a fake SMS centre)
#            chromium openssl curl     the browser; a self-signed certificate; curl's SMTP
#   <cache>/node/node_modules          npm ci --ignore-scripts of tests/e2e/package{,-lock}.json
#                                      (playwright-core; no browser download: it drives
#                                      /usr/bin/chromium)
#
# <cache> is $HABANERO_E2E_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/habanero/e2e.
# Needs node >= 20 with npm (present on our machines). Concurrent runs wait on a lock.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
e2e="$root/tests/e2e"
cache=${HABANERO_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/habanero/e2e}
mkdir -p "$cache"

die() { echo "setup-e2e.sh: $*" >&2; exit 1; }

exec 9>"$cache/.lock"
flock 9

# ---- Debian packages ----------------------------------------------------------------------
packages=(python3 python3-aiosmtpd kannel kannel-extras chromium openssl curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo ">> e2e: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1 ||
    [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1) ]]; then
    $sudo apt-get update -q >&2
  fi
  # policy-rc.d keeps the kannel package from starting its system-wide boxes.
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
[[ -x /usr/sbin/bearerbox && -x /usr/sbin/smsbox ]] || die "kannel's bearerbox/smsbox are missing"
[[ -x /usr/lib/kannel/test/fakesmsc ]] || die "fakesmsc (kannel-extras) is missing"
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || die "Debian's python3 cannot import aiosmtpd"

# ---- npm: playwright-core -----------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node (20 or newer) is required"
command -v npm >/dev/null 2>&1 || die "npm, which comes with Node.js, is required"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || die "node $(node --version) is too old: playwright-core needs 20 or newer"

key=$(cat "$e2e/package.json" "$e2e/package-lock.json" | sha256sum | cut -c1-64)
if ! [[ -f "$cache/node/.stamp" && $(cat "$cache/node/.stamp") == "$key" ]]; then
  echo ">> e2e: npm ci (playwright-core, no browser download)" >&2
  rm -rf "$cache/node.new"
  mkdir -p "$cache/node.new"
  cp "$e2e/package.json" "$e2e/package-lock.json" "$cache/node.new/"
  (cd "$cache/node.new" &&
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  echo "$key" >"$cache/node.new/.stamp"
  rm -rf "$cache/node"
  mv "$cache/node.new" "$cache/node"
fi

echo "$cache"
