# One image recipe for every service: docker build --build-arg SERVICE=client -t loyalty-client .
# Dependencies are compiled in their own layer (cargo-chef), so a source change rebuilds only the
# workspace crates. The runtime is distroless: no shell, no package manager, non-root. Probes are
# Kubernetes' gRPC probes, so the image has no HEALTHCHECK.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
ARG SERVICE=client
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package "loyalty-${SERVICE}"
COPY . .
RUN cargo build --release --locked --package "loyalty-${SERVICE}" --bin "loyalty-${SERVICE}" \
    && cp "target/release/loyalty-${SERVICE}" /service

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=builder /service /usr/local/bin/service
USER 65532:65532
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/service"]
CMD ["serve"]
