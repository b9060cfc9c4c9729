#!/usr/bin/env bash
# The Python package's tests (docs/python.md): build the wheel once, install
# it into a FRESH venv with nest-simulator==3.10.0 (no Rust toolchain on PATH
# for the install and the tests), run python/tests with pytest, which also
# executes examples/getting_started.ipynb (nbclient) and the Elephant example.
#
#   bash scripts/test_python.sh        (called by scripts/test.sh)
#
# Downloads are cached by pip under ~/.cache/pip; the venv is
# target/python-test-venv (recreated on every call), the wheel target/wheels/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=target/python-test-venv
# the interpreter of the project venv: the NEST wheel is built for it
base=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')

rm -rf "$venv" target/wheels
"$base" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
# the wheel: the same `cargo build --release` as scripts/test.sh (no rebuild)
"$venv/bin/pip" wheel -q --disable-pip-version-check --no-deps -w target/wheels ./python
wheel=$(ls target/wheels/seqlearn_nest-*.whl)

# from here on no cargo/rustc: the wheel must install and run without them
nocargo=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '\.cargo' -e 'rustup' | paste -sd: -)
PATH=$nocargo "$venv/bin/pip" install -q --disable-pip-version-check \
  "nest-simulator==3.10.0" "${wheel}[elephant,notebook]" pytest
cd target
PATH=$nocargo SEQLEARN_REPO="$repo" OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} \
  "$repo/$venv/bin/python" -m pytest -q -p no:cacheprovider "$repo/python/tests"
