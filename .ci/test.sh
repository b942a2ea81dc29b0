#!/usr/bin/env bash
# The test command of the README: every test of the workspace (unit, snapshot, and the
# integration tests that run the binary against the Kestra emulator over real HTTP).
# Needs only the Rust toolchain: it installs nothing (the first run downloads and compiles the
# dependencies, which takes minutes); safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked --all-targets "$@"
