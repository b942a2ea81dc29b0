# The kestra-sync image: the GitHub Docker action (action.yml), the GitLab CI image, and the
# CLI for any other CI.
#
# Constraints it honours (see README, "Container image"):
# - GitHub runs Docker actions as root with the workspace mounted at /github/workspace as the
#   working directory: no USER, no WORKDIR in the final stage, an exec-form ENTRYPOINT with an
#   absolute path.
# - GitLab feeds the job script to `sh` inside the image (with `entrypoint: [""]`): the image
#   needs a shell, so the runtime is debian-slim rather than scratch or distroless.
# - `--source git` shells out to `git`; HTTPS needs the CA bundle.
#
# Stages (the last one, `runtime`, is the default target):
#   build          compiles the binary (rust:1-slim-bookworm).
#   runtime-base   debian:bookworm-slim + ca-certificates + git, labels, ENTRYPOINT.
#   prebuilt       runtime-base + a `kestra-sync` binary taken from the root of the build
#                  context: one built on a Debian bookworm host (same glibc). Used by
#                  .ci/image-check.sh --prebuilt to check the image in seconds.
#   runtime        runtime-base + the binary from `build`. What GitHub builds for
#                  `image: Dockerfile` and what the release workflow publishes.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin kestra-sync \
 && install -D -m 0755 target/release/kestra-sync /out/kestra-sync

FROM debian:bookworm-slim AS runtime-base
ARG VERSION=dev
LABEL org.opencontainers.image.title="kestra-sync" \
      org.opencontainers.image.description="Plan and apply Kestra flows from Git, from CI: a reviewed change with a diff, like terraform plan/apply" \
      org.opencontainers.image.source="https://github.com/kestra-sync/kestra-sync" \
      org.opencontainers.image.documentation="https://github.com/kestra-sync/kestra-sync#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates git \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt /var/log/dpkg.log
ENTRYPOINT ["/usr/local/bin/kestra-sync"]

FROM runtime-base AS prebuilt
COPY kestra-sync /usr/local/bin/kestra-sync

FROM runtime-base AS runtime
COPY --from=build /out/kestra-sync /usr/local/bin/kestra-sync
