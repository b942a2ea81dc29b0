#!/usr/bin/env bash
# Check that tests/fixtures/github-openapi.json is still a verbatim extract of GitHub's
# official OpenAPI description (@octokit/openapi, pinned below). The Rust tests validate every
# request sent to the fake GitHub against that file. Needs node and npm (npm registry).
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=23.0.2
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "github-openapi check SKIPPED: node/npm not installed (apt-get install nodejs npm)"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
npm install --silent --no-audit --no-fund --prefix "$dir" "@octokit/openapi@$VERSION" >/dev/null
node .ci/github-openapi/extract.mjs "$dir/node_modules/@octokit/openapi" --check
