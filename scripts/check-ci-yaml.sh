#!/usr/bin/env bash
# Validate the GitLab CI files shipped to users (examples/, templates/) against GitLab's CI
# schema, as bundled by check-jsonschema. Creates a private venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CHECK_JSONSCHEMA_VENV:-target/venv-check-jsonschema}"
if [ ! -x "$venv/bin/check-jsonschema" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'check-jsonschema==0.39.0'
fi
"$venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci \
  examples/gitlab-ci*.yml templates/*.gitlab-ci.yml
