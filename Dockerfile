# syntax=docker/dockerfile:1
# securityprofile-operator image: build with the locked dependencies, run on distroless.
#   docker build -t securityprofile-operator:0.1.0 --build-arg GIT_REVISION=$(git rev-parse --short HEAD) .
# The runtime image holds only the binary (ring needs glibc, hence distroless/cc, not scratch).

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
# Strip symbols from the release binary (the image carries nothing else, so this is its size;
# Cargo.toml's release profile strips too).
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
# The git revision for `--version` and the build_info metric (the context has no .git):
#   docker build --build-arg GIT_REVISION=$(git rev-parse --short HEAD) .
ARG GIT_REVISION=unknown
# The whole workspace: cargo loads every member, though the production build uses none of the
# test servers (--no-default-features leaves out the `sandbox` command and its crates).
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --no-default-features --bin securityprofile-operator \
    && install -D -m 0755 target/release/securityprofile-operator /out/securityprofile-operator

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="securityprofile-operator" \
      org.opencontainers.image.description="Kubernetes operator for AWS IoT Device Defender security profiles" \
      org.opencontainers.image.source="https://github.com/securityprofile-operator/securityprofile-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/securityprofile-operator /securityprofile-operator
# JSON logs, and probes/metrics reachable from outside the container (flags override these).
ENV LOG_FORMAT=json \
    HEALTH_ADDR=0.0.0.0:8081 \
    METRICS_ADDR=0.0.0.0:8080
EXPOSE 8080 8081
# distroless "nonroot": uid/gid 65532, no shell, no package manager.
USER 65532:65532
ENTRYPOINT ["/securityprofile-operator"]
CMD ["run"]
