#!/usr/bin/env bash
# The test command of the README: every test of the workspace (unit, snapshot, and the
# integration tests that run the binary against the Kestra emulator over real HTTP).
# Needs only the Rust toolchain: it installs nothing (the first run downloads and compiles the
# dependencies, which takes minutes); safe to run again.
#
# A few tests read external test data beside the clone (../shared/corpus: Kestra's own test
# flows and the blueprint catalogue; ../shared/kestra-openapi: Kestra's API specs). In a
# clone without it they pass as skipped, and this script names each one at the end;
# scripts/fetch-corpus.sh fetches the same pinned data (the project's GitHub CI does).
set -euo pipefail
cd "$(dirname "$0")/.."
skipped=$(mktemp)
trap 'rm -f "$skipped"' EXIT
KESTRA_SYNC_SKIPPED="$skipped" cargo test --workspace --locked --all-targets "$@"
if [ -s "$skipped" ]; then
    echo
    echo "Skipped for lack of external test data ($(sort -u "$skipped" | wc -l) tests):"
    sort -u "$skipped" | sed 's/^/  /'
fi
