#!/usr/bin/env bash
# The whole job end to end, on a fresh machine: plan the sample flows repo (examples/),
# apply it, then plan again and see no changes.
#
# Against the bundled Kestra emulator (test infrastructure, started here on a free port),
# unless KESTRA_URL is set: then against that server, with KESTRA_USERNAME/KESTRA_PASSWORD or
# KESTRA_API_TOKEN from the environment. Target namespace: $KESTRA_SYNC_TARGET_NAMESPACE or
# `demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin kestra-sync -p kestra-sync
bin=target/debug/kestra-sync

emulator_pid=""
cleanup() { [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [ -z "${KESTRA_URL:-}" ]; then
  cargo build --quiet --bin kestra-emulator -p kestra-emulator
  log=$(mktemp)
  target/debug/kestra-emulator --port 0 --username demo@kestra.io --password 'Demo-pass1' >"$log" 2>&1 &
  emulator_pid=$!
  for _ in $(seq 1 100); do
    grep -q 'http://' "$log" && break
    sleep 0.1
  done
  KESTRA_URL=$(grep -o 'http://[^ ]*' "$log" | head -1)
  [ -n "$KESTRA_URL" ] || { echo "the emulator did not start:"; cat "$log"; exit 1; }
  export KESTRA_URL KESTRA_USERNAME=demo@kestra.io KESTRA_PASSWORD='Demo-pass1'
  echo "== Kestra emulator listening on $KESTRA_URL (no server given)"
fi

export KESTRA_SYNC_WORKSPACE=examples
export KESTRA_SYNC_TARGET_NAMESPACE="${KESTRA_SYNC_TARGET_NAMESPACE:-demo}"
export KESTRA_SYNC_INCLUDE_CHILD_NAMESPACES=true

echo "== 1. kestra-sync plan"
"$bin" plan --detailed-exitcode && rc=0 || rc=$?
[ "$rc" = 2 ] || [ "$rc" = 0 ] || exit "$rc"
echo
echo "== 2. kestra-sync apply"
"$bin" apply
echo
echo "== 3. kestra-sync plan again: nothing left to do"
"$bin" plan --detailed-exitcode
echo
echo "Done: the server matches examples/_flows (exit code 0 = no changes)."
