#!/usr/bin/env bash
# Validate the GitLab CI files shipped to users (examples/, templates/, and the README's GitLab
# snippet) against GitLab's CI schema, as bundled by check-jsonschema. Creates a private venv
# on first use. That the stages their jobs use exist, alone and mixed, is checked by
# tests/it/gitlab_ci_files.rs (every_shipped_pipeline_and_their_mix_resolve_to_existing_stages).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${CHECK_JSONSCHEMA_VENV:-target/venv-check-jsonschema}"
if [ ! -x "$venv/bin/check-jsonschema" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'check-jsonschema==0.39.0'
fi
snippet_dir=$(mktemp -d)
trap 'rm -rf "$snippet_dir"' EXIT
# The README's ```yaml block that includes the template, as a user pastes it.
awk '/^```yaml$/ {inblock=1; block=""; next}
     /^```$/ && inblock {inblock=0; if (block ~ /kestra-sync.gitlab-ci.yml/) printf "%s", block; next}
     inblock {block = block $0 "\n"}' README.md >"$snippet_dir/README-gitlab-snippet.yml"
if ! grep -q 'extends: .kestra-sync-plan' "$snippet_dir/README-gitlab-snippet.yml"; then
  echo "check-ci-yaml: the README's GitLab snippet was not found" >&2
  exit 1
fi
"$venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci \
  examples/gitlab-ci*.yml templates/*.gitlab-ci.yml "$snippet_dir/README-gitlab-snippet.yml"
