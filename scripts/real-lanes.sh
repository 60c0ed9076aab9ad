#!/usr/bin/env bash
# The opt-in lanes against a real AWS account and a real cluster (tests/operator/real.rs).
#   SPO_REAL_AWS_REGION=eu-west-1 [AWS credentials in the default chain]   the AWS lane
#   SPO_REAL_KUBECONFIG=~/.kube/config (with the region above)            the cluster lane
# A lane whose variables are missing prints SKIPPED and passes; the lanes create profiles
# named spo-lane-* and delete them again.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SPO_REAL_AWS_REGION:-}" ] || echo "SKIPPED: the real AWS lane needs SPO_REAL_AWS_REGION (and credentials)" >&2
[ -n "${SPO_REAL_KUBECONFIG:-}" ] || echo "SKIPPED: the real cluster lane needs SPO_REAL_KUBECONFIG" >&2
exec cargo test --test operator real:: -- --ignored --nocapture "$@"
