# syntax=docker/dockerfile:1
#
# CoreDog image: three executables, one per role and the `coredog` command, built with `deno compile`.
#
#   docker build -t registry.example.com/coredog:0.1.0 .
#   docker push registry.example.com/coredog:0.1.0
#
# The chart runs /usr/local/bin/coredog-watcher (DaemonSet, as root with three capabilities) and
# /usr/local/bin/coredog-webhook (Deployment, as the image's non-root user). Each executable is
# compiled with only the permissions its role needs: the same flags as `deno task watcher` and
# `deno task webhook` in deno.json (tests/dockerfile_test.ts keeps them equal). /usr/local/bin/coredog is
# the command users run (docs/cli.md) and the init container of its debug pods (`coredog fetch`).
#
# The debug pods' default debugger image (gdb and a shell) is the `debugger` target:
#   docker build --target debugger -t registry.example.com/coredog-debugger:0.1.0 .

ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY src/ src/
# The npm packages, exactly as locked; a lockfile that does not match deno.json fails the build.
# --exclude-unused-npm below keeps the test-only packages (the S3 test server...) out of the executables.
RUN deno install --frozen --entrypoint src/watcher/main.ts src/webhook/main.ts src/cli/main.ts
# The watcher reads CorefileDir, deletes stored cores and writes its ledger wherever the
# configuration says, talks to S3, the chat APIs and the Kubernetes API, reads the AWS SDK's
# environment and the node's hostname and addresses.
# File events run in a worker (src/watcher/fs_events.ts), whose module `deno compile` embeds only
# when it is named with --include. FFI: inotify without an event per written page
# (src/watcher/inotify_ffi.ts, measured in docs/performance.md); without it, Deno.watchFs.
RUN deno compile --frozen --exclude-unused-npm \
      --allow-read --allow-write --allow-net --allow-env --allow-sys --allow-ffi \
      --include src/watcher/fs_event_worker.ts \
      --output /out/coredog-watcher src/watcher/main.ts
# The webhook reads its configuration, certificate and service account, listens and talks to the
# Kubernetes API, and writes nothing (a self-managed certificate stays in the Secret and in memory).
# All variables: @kubernetes/client-node's dependencies read the whole environment when loaded.
# FFI: TCP_NODELAY on the listening socket (src/webhook/listener_no_delay.ts), without which every
# answer waits about 44 ms for kube-apiserver's delayed ACK. --unstable-net: Deno 2.9 keeps
# `reusePort` on a TLS listener unstable, and a certificate swap opens the new server on the port
# before the old one closes (src/webhook/tls_server.ts).
RUN deno compile --frozen --exclude-unused-npm \
      --allow-read --allow-net --allow-env --allow-ffi --unstable-net \
      --output /out/coredog-webhook src/webhook/main.ts
# The coredog command reads its configuration and the user's kubeconfig, writes the cores it gets,
# talks to S3 and the Kubernetes API, reads the AWS SDK's and client-node's environment, and the OS
# release (the AWS SDK's user agent).
RUN deno compile --frozen --exclude-unused-npm \
      --allow-read --allow-write --allow-net --allow-env --allow-sys=osRelease \
      --output /out/coredog src/cli/main.ts

# `coredog debug`'s debugger container: gdb, and the shell its script runs in.
FROM debian:bookworm-slim AS debugger
RUN apt-get update && apt-get install -y --no-install-recommends gdb && rm -rf /var/lib/apt/lists/*

# glibc and libgcc for the Deno runtime, nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/coredog-watcher /out/coredog-webhook /out/coredog /usr/local/bin/
# Non-root by default (65532); the watcher's DaemonSet asks for root and the capabilities it needs.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/coredog-webhook"]
