#!/usr/bin/env bash
# Checks the real Dockerfile and the image it makes, on a machine without a Docker engine:
# builds it with buildah (vfs storage, chroot isolation, no registry: local stand-ins of the
# base images from ../shared/tools/local-base-images.sh) and smoke-runs the result. Root only.
#
#   .ci/image-check.sh                full: compile inside the image (the Dockerfile's `build`
#                                     stage, exactly what GitHub builds for `image: Dockerfile`)
#   .ci/image-check.sh --prebuilt [PROFILE]
#                                     build kestra-sync on this host (a Debian bookworm, the
#                                     runtime's glibc) with cargo PROFILE (`release` by
#                                     default; `dev` reuses the binary the tests built), then
#                                     assemble the runtime stage from it (--target prebuilt).
#                                     .ci/run uses `--prebuilt dev`: same Dockerfile, same
#                                     runtime stage, no second compile.
#   .ci/image-check.sh --docker IMG   only the smoke checks, against IMG with `docker run`
#                                     (GitHub CI, where a Docker engine exists)
#   .ci/image-check.sh --existing [IMG]  only the smoke checks, against a buildah image
#                                     (default localhost/kestra-sync:dev)
#
# Smoke checks: `--version` names the crate version; `ci --help` works; the image has a shell,
# git and the CA bundle; it runs as root with no WORKDIR and the exec-form ENTRYPOINT that
# GitHub Docker actions need. Prints the timings and the image size.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full image=localhost/kestra-sync:dev profile=release
case "${1:-}" in
  "") ;;
  --prebuilt) mode=prebuilt; profile=${2:-release} ;;
  --docker) mode=docker; image=${2:?usage: .ci/image-check.sh --docker IMAGE} ;;
  --existing) mode=existing; image=${2:-$image} ;;
  -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
  *) echo "image-check: unknown argument '$1' (use --prebuilt [PROFILE], --docker IMAGE, --existing [IMAGE] or nothing)" >&2; exit 2 ;;
esac

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "image-check: no version in Cargo.toml" >&2; exit 1; }
say() { echo "image-check: $*"; }
fail() { echo "image-check: FAILED: $*" >&2; exit 1; }
now() { date +%s; }

STORE=(--storage-driver vfs)
container=""
cleanup() { [ -n "$container" ] && buildah "${STORE[@]}" rm "$container" >/dev/null 2>&1 || true; }
trap cleanup EXIT

if [ "$mode" = full ] || [ "$mode" = prebuilt ]; then
  [ "$(id -u)" = 0 ] || fail "needs root (buildah with vfs storage and chroot isolation)"
  t0=$(now)
  if [ "$mode" = full ]; then
    bash ../shared/tools/local-base-images.sh --rust >/dev/null
  else
    bash ../shared/tools/local-base-images.sh >/dev/null # the prebuilt target needs no Rust image
  fi
  say "local base images ready in $(( $(now) - t0 ))s"

  # The image this run replaces: removed once the new one is tagged (vfs keeps full copies).
  previous=$(buildah "${STORE[@]}" images --quiet --no-trunc "$image" 2>/dev/null | head -1 || true)
  build=(buildah "${STORE[@]}" bud --pull=never --isolation chroot
         -v /etc/ssl/certs:/etc/ssl/certs:ro --build-arg "VERSION=$version" -t "$image")
  t0=$(now)
  if [ "$mode" = prebuilt ]; then
    case "$profile" in
      release) dir=release ;;
      dev) dir=debug ;;
      *) fail "unknown cargo profile '$profile' (use release or dev)" ;;
    esac
    cargo build --profile "$profile" --locked --bin kestra-sync
    say "host build ($profile) in $(( $(now) - t0 ))s"
    # A context holding only the binary, which the Dockerfile's `prebuilt` stage copies.
    ctx=$(mktemp -d); trap 'cleanup; rm -rf "$ctx"' EXIT
    cp "target/$dir/kestra-sync" "$ctx/kestra-sync"
    t0=$(now)
    "${build[@]}" --target prebuilt -f "$PWD/Dockerfile" "$ctx" >"${TMPDIR:-/tmp}/image-check-build.log" 2>&1 \
      || { tail -40 "${TMPDIR:-/tmp}/image-check-build.log"; fail "buildah bud --target prebuilt failed"; }
  else
    "${build[@]}" . >"${TMPDIR:-/tmp}/image-check-build.log" 2>&1 \
      || { tail -40 "${TMPDIR:-/tmp}/image-check-build.log"; fail "buildah bud failed"; }
  fi
  say "image $image built ($mode${ctx:+, $profile binary}) in $(( $(now) - t0 ))s; log: ${TMPDIR:-/tmp}/image-check-build.log"
  current=$(buildah "${STORE[@]}" images --quiet --no-trunc "$image" | head -1)
  if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
    buildah "${STORE[@]}" rmi "$previous" >/dev/null 2>&1 || true
  fi
fi

if [ "$mode" != docker ]; then
  container=$(buildah "${STORE[@]}" from --pull-never "$image")
  run_in() { buildah "${STORE[@]}" run --isolation chroot "$container" -- "$@"; }
  config=$(buildah "${STORE[@]}" inspect --type image --format '{{.OCIv1.Config.User}}|{{.OCIv1.Config.WorkingDir}}|{{.OCIv1.Config.Entrypoint}}' "$image")
  size=$(buildah "${STORE[@]}" images --format '{{.Size}}' "$image" | head -1)
else
  run_in() {
    if [ "$1" = sh ]; then shift; docker run --rm --entrypoint sh "$image" "$@"
    else [ "$1" = /usr/local/bin/kestra-sync ] && shift; docker run --rm "$image" "$@"; fi
  }
  config=$(docker image inspect --format '{{.Config.User}}|{{.Config.WorkingDir}}|{{.Config.Entrypoint}}' "$image")
  size=$(docker image inspect --format '{{.Size}}' "$image")
fi

t0=$(now)
out=$(run_in /usr/local/bin/kestra-sync --version) || fail "kestra-sync --version exited non-zero"
case "$out" in
  "kestra-sync $version"*) say "--version: $out" ;;
  *) fail "kestra-sync --version printed '$out', expected 'kestra-sync $version'" ;;
esac
help=$(run_in /usr/local/bin/kestra-sync ci --help) || fail "kestra-sync ci --help exited non-zero"
grep -q -- '--target-namespace' <<<"$help" || fail "kestra-sync ci --help does not list --target-namespace"
say "ci --help: ok"
tools=$(run_in sh -c 'command -v git && git --version && test -s /etc/ssl/certs/ca-certificates.crt && ls /etc/ssl/certs | head -1') \
  || fail "the image lacks a shell, git or the CA bundle (/etc/ssl/certs/ca-certificates.crt)"
grep -q '^git version ' <<<"$tools" || fail "git --version printed nothing in the image (got: '$tools')"
say "shell, git, CA bundle: $(tr '\n' ' ' <<<"$tools")"
case "$config" in
  '|'*|'root|'*|'0|'*) ;;
  *) fail "the image sets USER ($config): GitHub Docker actions must run as root" ;;
esac
IFS='|' read -r _user workdir entrypoint <<<"$config"
[ -z "$workdir" ] || [ "$workdir" = / ] || fail "the image sets WORKDIR $workdir: GitHub mounts the workspace as the working directory"
# Go's rendering of the exec form ["/usr/local/bin/kestra-sync"]; a shell form shows /bin/sh -c.
[ "$entrypoint" = '[/usr/local/bin/kestra-sync]' ] || fail "ENTRYPOINT is $entrypoint, expected the exec form [\"/usr/local/bin/kestra-sync\"]"
say "root, no WORKDIR, ENTRYPOINT $entrypoint"
say "smoke checks passed in $(( $(now) - t0 ))s; image size $size"
