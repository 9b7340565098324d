#!/usr/bin/env bash
# Builds nats-server (NATS with JetStream) once into the cache (scripts/build-go-tool.sh) and
# prints the path of the binary. The tests of the events broker (src/events/nats_broker.*,
# tests/cluster/events_broker_test.py) start it on loopback.
exec "$(dirname "$0")/build-go-tool.sh" nats-server github.com/nats-io/nats-server/v2 v2.15.2 \
  "-mod=mod -trimpath"
