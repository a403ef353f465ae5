#!/usr/bin/env bash
# Regenerate the Python code for every .proto under protos/, in place beside them:
#   protos/generate.sh
# The output imports as protos.gan.v1.generation_pb2 from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
out=${1:-.}
"$python" -m grpc_tools.protoc -I . --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" protos/gan/v1/*.proto
