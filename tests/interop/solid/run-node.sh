#!/usr/bin/env bash
# Runs one of the scripts here (css.mjs, login.mjs, selfcheck.mjs) with the packages that
# scripts/setup-solid.sh installed: copies the scripts into a fresh folder beside the cached
# node_modules (so Node's resolution finds them) and removes it afterwards.
#   tests/interop/solid/run-node.sh login.mjs --help
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${HABANERO_SOLID_CACHE:-$("$here/../../../scripts/setup-solid.sh")}
[[ -d "$cache/node_modules" ]] || { echo "run-node.sh: no node_modules in $cache" >&2; exit 1; }
export HABANERO_INTEROP_DIR=${HABANERO_INTEROP_DIR:-$(cd "$here/.." && pwd)}
script=$1
shift
work=$(mktemp -d "$cache/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$here"/*.mjs "$work/"
# Not exec: the trap removes the copy when the script ends; signals are passed on.
# A background job's stdin would be /dev/null: hand it ours (login.mjs --browser stdio reads it).
exec 3<&0
node "$work/$script" "$@" <&3 3<&- &
child=$!
trap 'kill -TERM $child 2>/dev/null; wait $child; rm -rf "$work"' TERM INT
wait $child
