#!/usr/bin/env bash
# The opt-in lanes against a real AWS account and a real cluster (tests/operator/real.rs).
#   SPO_REAL_AWS_REGION=eu-west-1 [AWS credentials in the default chain]   the AWS lane
#   SPO_REAL_KUBECONFIG=~/.kube/config (with the region above)            the cluster lane
#   SPO_REAL_IAM_ROLE_NAME=spo-lane (with the region above; needs the aws CLI and rights to
#     put a role policy, assume the role, and create custom metrics, dimensions and thing
#     groups)                                                               the IAM lane
# A lane whose variables are missing prints SKIPPED and passes; the lanes create profiles
# named spo-lane-* and delete them again.
#
# The IAM lane puts the scoped policy `iam-policy --account ACCOUNT --region REGION
# --cluster-id real-lane` prints on the role (an inline policy named
# securityprofile-operator-lane), makes a custom metric, a dimension and a thing group with the
# caller's own credentials (not owned by the lane), then runs the lifecycle of a profile using
# them with the role's credentials, and deletes what it made.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${SPO_REAL_AWS_REGION:-}" ] || echo "SKIPPED: the real AWS lane needs SPO_REAL_AWS_REGION (and credentials)" >&2
[ -n "${SPO_REAL_KUBECONFIG:-}" ] || echo "SKIPPED: the real cluster lane needs SPO_REAL_KUBECONFIG" >&2

iam_lane() {
  local region="$SPO_REAL_AWS_REGION" role="$SPO_REAL_IAM_ROLE_NAME" suffix="$RANDOM"
  local account metric="spoLaneMetric$suffix" dimension="spoLaneTopics$suffix" group="spo-lane-group-$suffix"
  account=$(aws sts get-caller-identity --query Account --output text)
  mkdir -p target
  cargo run -q -- iam-policy --account "$account" --region "$region" --cluster-id real-lane \
    > target/real-lane-policy.json
  aws iam put-role-policy --role-name "$role" --policy-name securityprofile-operator-lane \
    --policy-document file://target/real-lane-policy.json
  aws iot create-custom-metric --region "$region" --metric-name "$metric" --metric-type number \
    --client-request-token "spo-lane-$suffix" > /dev/null
  aws iot create-dimension --region "$region" --name "$dimension" --type TOPIC_FILTER \
    --string-values 'lane/#' --client-request-token "spo-lane-$suffix" > /dev/null
  local group_arn
  group_arn=$(aws iot create-thing-group --region "$region" --thing-group-name "$group" \
    --query thingGroupArn --output text)
  cleanup() {
    aws iot delete-thing-group --region "$region" --thing-group-name "$group" > /dev/null || true
    aws iot delete-dimension --region "$region" --name "$dimension" > /dev/null || true
    aws iot delete-custom-metric --region "$region" --metric-name "$metric" > /dev/null || true
  }
  trap cleanup EXIT
  sleep 15 # IAM is eventually consistent
  local creds
  creds=$(aws sts assume-role --role-arn "arn:aws:iam::$account:role/$role" \
    --role-session-name spo-real-lane --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' \
    --output text)
  read -r key secret token <<< "$creds"
  env -u AWS_PROFILE AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" \
    AWS_SESSION_TOKEN="$token" SPO_REAL_IAM_METRIC="$metric" SPO_REAL_IAM_DIMENSION="$dimension" \
    SPO_REAL_IAM_THING_GROUP_ARN="$group_arn" \
    cargo test --test operator real::real_iam -- --ignored --nocapture
}

if [ -n "${SPO_REAL_IAM_ROLE_NAME:-}" ] && [ -n "${SPO_REAL_AWS_REGION:-}" ]; then
  iam_lane
else
  echo "SKIPPED: the real IAM lane needs SPO_REAL_IAM_ROLE_NAME and SPO_REAL_AWS_REGION (and the aws CLI)" >&2
fi
exec cargo test --test operator real:: -- --ignored --nocapture --skip real_iam "$@"
