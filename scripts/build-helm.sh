#!/usr/bin/env bash
# Builds Helm once into the cache (scripts/build-go-tool.sh) and prints the path of the
# helm binary: the Helm chart's checks (tests/cluster/helm_test.py) run it.
exec "$(dirname "$0")/build-go-tool.sh" helm helm.sh/helm/v3/cmd/helm v3.21.4
