#!/usr/bin/env bash
# Tests of the NESTML models (parse/validate, NEST 3.10 code generation and
# compile, comparison with the hand-written C++ module).
#
# Usage: nestml-models/run_tests.sh [PYTHON] [test options]
#   PYTHON defaults to $PYTHON, then the project venv (.venv/bin/python).
#   The venv needs nest-simulator==3.10.0 and nestml-models/requirements.txt.
# Environment: SEQLEARN_NEST_MODULE (hand-written module .so),
#   SEQLEARN_REQUIRE_MODULE=1 (CI: a missing module fails instead of skipping),
#   SEQLEARN_NESTML_BUILD (build directory, default a temporary one).
# Exits non-zero on any failure; the last line is "N passed, N failed, N skipped".
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
py="${PYTHON:-$repo/.venv/bin/python}"
if [[ $# -gt 0 && "$1" != -* ]]; then py="$1"; shift; fi
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
exec "$py" "$here/tests/test_nestml.py" "$@"
