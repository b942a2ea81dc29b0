#!/usr/bin/env bash
# Run the cargo-fuzz targets (fuzz/): the flow parser/checker and the namespace rewrite.
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target runs
# for SECONDS (default 300); a crash leaves its input under fuzz/artifacts/<target>/:
# add it to the regression tests in src/flow before fixing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-300}"
for target in prepare rewrite; do
  # seed the corpus with the real flows of the shared corpus, when present (the rewrite
  # target reads its first byte as the choice of target namespace: prefix one)
  mkdir -p "fuzz/corpus/$target"
  i=0
  for f in ../shared/corpus/kestra-core/valids/*.y*ml ../shared/corpus/blueprints/*.y*ml; do
    [ -f "$f" ] || continue
    i=$((i + 1))
    if [ "$target" = rewrite ]; then
      { printf '\001'; cat "$f"; } > "fuzz/corpus/$target/seed$i"
    else
      cp "$f" "fuzz/corpus/$target/seed$i"
    fi
  done
  cargo +nightly fuzz run "$target" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 2>&1 \
    | tee "fuzz/$target.log" | grep -E "^#[0-9]+.*(DONE|pulse)|Done [0-9]+ runs|SUMMARY|panicked" || true
done
