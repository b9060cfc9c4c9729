#!/usr/bin/env bash
# Installs what seqlearn-nest needs on a fresh Debian machine: the C++ headers
# NEST's module API needs, a project venv with NEST 3.10 (PyPI wheel) and the
# NESTML toolchain, and (for the report test) Chromium. Idempotent.
# (scripts/test_python.sh makes its own fresh venv from .venv's interpreter
# with python3-venv and pip; its downloads are cached under ~/.cache/pip.)
#
#   bash scripts/setup.sh [--mpi]
#
# --mpi additionally installs Open MPI and CMake and builds NEST 3.10 with
# MPI + OpenMP from source into a cache outside the work tree, reused by later
# calls (scripts/setup_nest_mpi.sh; docs/cluster.md), and links it as .nest-mpi
# for build.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

mpi=0
for arg in "$@"; do
  case "$arg" in
    --mpi) mpi=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$arg' (allowed: --mpi)" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_pkgs=(libboost-dev libltdl-dev libgsl-dev g++ python3-venv)
if [ "$mpi" = 1 ]; then apt_pkgs+=(cmake ninja-build libopenmpi-dev openmpi-bin); fi
need_apt=()
for pkg in "${apt_pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${SEQLEARN_WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${SEQLEARN_BASE_PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('nest') else 1)" 2>/dev/null; then
  echo "setup: installing nest-simulator==3.10.0 into .venv"
  .venv/bin/pip install -q --disable-pip-version-check nest-simulator==3.10.0
fi
if [ "${SEQLEARN_WITH_NESTML:-1}" = 1 ] && ! .venv/bin/python -c "import pynestml" 2>/dev/null; then
  echo "setup: installing the NESTML toolchain into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r nestml-models/requirements.txt
fi
if [ "$mpi" = 1 ]; then
  bash scripts/setup_nest_mpi.sh
  # .nest-mpi -> the prefix: build.rs compiles the MPI module against it.
  # A new or changed link touches build.rs so that the next cargo build
  # reruns it (cargo cannot watch a path that did not exist).
  prefix=$(bash scripts/setup_nest_mpi.sh --print-prefix)
  if [ "$(readlink .nest-mpi 2>/dev/null || true)" != "$prefix" ]; then
    ln -sfn "$prefix" .nest-mpi
    touch build.rs
    echo "setup: .nest-mpi -> $prefix (the next cargo build adds the MPI module)"
  fi
fi
echo "setup: done (NEST venv: $(pwd)/.venv)"
