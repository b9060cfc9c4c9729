#!/usr/bin/env bash
# The whole test suite: set-up (with the MPI NEST: its first build on a
# machine takes 30-80 min, later calls reuse it), Rust tests (native, NEST and
# NEST under MPI, which must not skip), the PyNEST module test, the Python
# package (wheel in a fresh venv), the NESTML tests, formatting and lints.
set -euo pipefail
cd "$(dirname "$0")/.."
SEQLEARN_WITH_BROWSER=1 bash scripts/setup.sh --mpi

export SEQLEARN_REQUIRE_NEST=1        # build.rs: missing NEST is an error
export SEQLEARN_REQUIRE_NEST_MPI=1    # build.rs and tests/mpi.rs: the MPI module too
# the prefix by name (an env var cargo tracks), so a target dir built before
# the MPI NEST existed recompiles the module for it
SEQLEARN_NEST_MPI_PREFIX=$(bash scripts/setup_nest_mpi.sh --print-prefix)
export SEQLEARN_NEST_MPI_PREFIX
export SEQLEARN_REQUIRE_MODULE=1      # NESTML comparison must not skip
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

cargo fmt --all -- --check
cargo clippy --release --all-targets -- -D warnings
cargo build --release
cargo test --release

module=$(ls -t target/release/build/seqlearn-nest-*/out/seqlearnmodule.so | head -n1)
export SEQLEARN_NEST_MODULE="$PWD/$module"
.venv/bin/python tests/python/test_pynest_module.py "$SEQLEARN_NEST_MODULE"
bash scripts/test_python.sh
bash nestml-models/run_tests.sh
echo "scripts/test.sh: all suites passed"
