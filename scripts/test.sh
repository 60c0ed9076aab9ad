#!/usr/bin/env bash
# The one test command: installs the independent clients (botocore, kubectl, helm) into
# target/tools, then runs every test of the workspace. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
export SPO_TOOLS_DIR="${SPO_TOOLS_DIR:-$PWD/target/tools}"
cargo test --workspace --locked --no-fail-fast "$@"
