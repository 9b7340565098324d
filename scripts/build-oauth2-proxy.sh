#!/usr/bin/env bash
# Builds oauth2-proxy (a relying party people deploy in front of their apps) once into the
# cache (scripts/build-go-tool.sh) and prints the path of the binary. The e2e test
# tests/e2e/oauth2_proxy_test.py signs users in through it: it refuses ID tokens whose
# email_verified is not true.
exec "$(dirname "$0")/build-go-tool.sh" oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7 v7.15.6
