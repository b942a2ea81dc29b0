#!/usr/bin/env bash
# Waits until a freshly started Kestra server answers, for the GitHub CI jobs that run Kestra
# as a service container (it takes 20-60 s to start). Polls the untenanted config endpoint,
# with HTTP Basic auth from KESTRA_E2E_USERNAME / KESTRA_E2E_PASSWORD when they are set.
#   .ci/wait-for-kestra.sh URL [SECONDS]     (default 240 s)
set -euo pipefail
url=${1:?usage: .ci/wait-for-kestra.sh URL [SECONDS]}
limit=${2:-240}
auth=()
if [ -n "${KESTRA_E2E_USERNAME:-}" ]; then
  auth=(--user "$KESTRA_E2E_USERNAME:${KESTRA_E2E_PASSWORD:-}")
fi
start=$(date +%s)
while :; do
  if curl -fsS -o /dev/null --max-time 5 "${auth[@]}" "$url/api/v1/configs" 2>/dev/null; then
    echo "Kestra answers on $url after $(( $(date +%s) - start ))s"
    exit 0
  fi
  if [ $(( $(date +%s) - start )) -ge "$limit" ]; then
    echo "::error::Kestra did not answer on $url/api/v1/configs within ${limit}s"
    curl -sS -o /dev/null -w 'last answer: HTTP %{http_code}\n' --max-time 5 "${auth[@]}" "$url/api/v1/configs" || true
    exit 1
  fi
  sleep 3
done
