#!/usr/bin/env bash
# The benchmark behind "Performance and safety" in the README: builds kestra-sync and the
# bench in release mode, then runs every case (N = 100, 1,000, 10,000 flows at 0 and 20 ms
# latency) against the Kestra emulator, kestra-sync next to a naive per-flow client.
# Arguments go to kestra-bench, e.g. `scripts/bench.sh --sizes 100,1000 --no-naive`.
# Takes a few minutes on 2 cores; prints a Markdown table and PASS/FAIL per target.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p kestra-sync -p kestra-bench --bin kestra-sync --bin kestra-bench
exec target/release/kestra-bench "$@"
