# The two commands of the README, and the checks CI runs.
.PHONY: dev test lint ci

# Start the whole suite with demo data (a private Postgres under .data/).
dev:
	@bash .ci/ensure-postgres
	cargo run --locked -p loyalty-cli -- dev up --demo

# Run every test against a real PostgreSQL (and lint/render the deployment with real helm, kubectl
# and hadolint, installed into .tools/bin when missing).
test:
	@bash .ci/ensure-postgres
	@bash .ci/ensure-tools
	cargo test --workspace --locked

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

ci: lint test
