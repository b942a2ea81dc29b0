#!/usr/bin/env bash
# Fetch the external test data that a few tests read, pinned, into ../shared beside the
# clone (what the tests look for; .ci/test.sh names the tests it skips without it):
#   ../shared/corpus/kestra-core/{valids,invalids}  kestra-io/kestra @ 58c1ca2d0,
#                                                   core/src/test/resources/flows/{valids,invalids}
#   ../shared/corpus/blueprints                     kestra-io/blueprints @ b071d16, flows/
#   ../shared/kestra-openapi/kestra-ee-*.yml        kestra-io/client-sdk: kestra-ee.yml
#                                                   @ 635944d4 (1.3.0) and @ 50cb46f4 (2.0.0-SNAPSHOT)
# The project's GitHub CI runs it before the tests. Needs git and network access to GitHub.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch() { # repo commit dir
    git init -q "$tmp/$3"
    git -C "$tmp/$3" remote add origin "https://github.com/$1.git"
    # a short commit is resolved by a partial (blob-less) fetch of the history
    git -C "$tmp/$3" fetch -q --filter=blob:none origin
    git -C "$tmp/$3" checkout -q "$2"
}
fetch kestra-io/kestra 58c1ca2d0 kestra
fetch kestra-io/blueprints b071d16 blueprints
fetch kestra-io/client-sdk 635944d4 sdk13
fetch kestra-io/client-sdk 50cb46f4 sdk20
mkdir -p "$shared/corpus/kestra-core" "$shared/corpus/blueprints" "$shared/kestra-openapi"
cp -R "$tmp/kestra/core/src/test/resources/flows/valids" "$shared/corpus/kestra-core/"
cp -R "$tmp/kestra/core/src/test/resources/flows/invalids" "$shared/corpus/kestra-core/"
cp "$tmp"/blueprints/flows/*.yaml "$shared/corpus/blueprints/"
cp "$tmp/sdk13/kestra-ee.yml" "$shared/kestra-openapi/kestra-ee-1.3.0.yml"
cp "$tmp/sdk20/kestra-ee.yml" "$shared/kestra-openapi/kestra-ee-2.0.0-SNAPSHOT.yml"
echo "fetched into $shared: $(find "$shared/corpus" -name '*.y*ml' | wc -l) flow files, $(ls "$shared/kestra-openapi" | wc -l) specs"
