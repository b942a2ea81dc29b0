#!/usr/bin/env bash
# The test command of the README: every test of the workspace (unit, snapshot, and the
# integration tests that run the binary against the Kestra emulator over real HTTP).
# Installs what the tests need that a fresh machine lacks; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked --all-targets "$@"
