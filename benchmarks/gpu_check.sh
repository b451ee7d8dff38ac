#!/usr/bin/env bash
# The CUDA path checked in one run (benchmarks/gpu_check.py): one markdown report in OUT.
#   bash benchmarks/gpu_check.sh OUT [--device cuda|cpu] [--quick] [--work DIR]
# Runs with the machine's own Python (PYTHON, else .venv/bin/python, else python3) and this checkout on
# PYTHONPATH. Packages that machine lacks (seaborn for the figures, pytest for the device tests) travel as
# wheels in .whl/ (pip download --only-binary=:all: ... -d .whl seaborn==0.13.2 pytest pluggy iniconfig
# packaging); they are installed into a private folder, never into the machine's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then echo "usage: bash benchmarks/gpu_check.sh OUT [--device cuda|cpu] [--quick] [--work DIR]" >&2; exit 2; fi
PY=${PYTHON:-}
if [ -z "$PY" ]; then if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi; fi
if compgen -G ".whl/*.whl" > /dev/null; then
  SITE=$(mktemp -d)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PY" benchmarks/gpu_check.py "$@"
