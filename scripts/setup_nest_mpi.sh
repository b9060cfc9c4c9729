#!/usr/bin/env bash
# Builds NEST 3.10.0 with MPI (Open MPI) and OpenMP from PyPI's source
# distribution into a cached prefix outside the work tree, and reuses it on
# every later call. Called by `bash scripts/setup.sh --mpi`, which installs
# the Debian packages first (cmake, ninja-build, libopenmpi-dev, openmpi-bin).
#
#   bash scripts/setup_nest_mpi.sh [--python PY] [--check] [--print-prefix]
#
#   --python PY     interpreter whose base the prefix's venv uses (default:
#                   the project's .venv/bin/python, as setup.sh made it, else
#                   $SEQLEARN_BASE_PYTHON or python3)
#   --check         also rerun the MPI acceptance check on a cached prefix
#   --print-prefix  print the prefix if a complete one is cached, else exit 1
#
# Environment: SEQLEARN_CACHE (cache root, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/seqlearn-nest), SEQLEARN_BUILD_JOBS
# (parallel compile jobs, default nproc), SEQLEARN_NEST_SDIST (a local copy
# of the sdist, for machines without PyPI; its checksum is verified).
#
# Cache key: the hash of the build manifest (build_manifest below): recipe
# version, NEST version and sdist checksum, CMake options, the base
# interpreter (real path and version), the C++ compiler, the MPI library,
# the mpi4py version and CMAKE_ARGS. Anything else (jobs, cache path) does
# not change the result. Layout of a prefix: docs/cluster.md.
#
# Publishing is atomic: everything is built in builds/<name>.<stamp>/, which
# gets its .complete marker only after the acceptance check passed; then the
# symlink <name> -> builds/<name>.<stamp> is renamed into place. A venv
# cannot be moved (absolute paths in its scripts), hence the symlink rather
# than a renamed directory. A failed build leaves an unmarked directory
# behind for inspection, which the next call deletes. The NEST wheel (the
# expensive part) is renamed into wheels/<name>/ as soon as it is built, so
# a failure in a later step does not cost a rebuild.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

NEST_VERSION=3.10.0
NEST_SDIST=nest_simulator-$NEST_VERSION.tar.gz
NEST_SDIST_SHA256=8fbd7df4a3e941784d4b1d5825ded234bdc915238faac0982c62e4cb80134d52
NEST_CMAKE_DEFINES=(with-mpi=ON with-openmp=ON)
MPI4PY_VERSION=4.1.2
RECIPE=1 # bump when the steps below change what gets built

CACHE=${SEQLEARN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seqlearn-nest}
PY=${SEQLEARN_BASE_PYTHON:-python3}
if [ -x "$here/../.venv/bin/python" ]; then PY=$here/../.venv/bin/python; fi
check=0
print_prefix=0
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY=${2:?--python needs an interpreter}; shift ;;
    --check) check=1 ;;
    --print-prefix) print_prefix=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-mpi: unknown option '$1' (allowed: --python PY, --check, --print-prefix)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "setup-mpi: $*"; }
die() { echo "setup-mpi: $*" >&2; exit 1; }
hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# --- what is built, and its key -------------------------------------------

# The real interpreter behind PY (a venv's python resolves to its base).
base_python() {
  "$PY" -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))'
}

build_manifest() {
  local py=$1
  echo "recipe $RECIPE"
  echo "nest-simulator $NEST_VERSION sdist-sha256 $NEST_SDIST_SHA256"
  echo "cmake-defines ${NEST_CMAKE_DEFINES[*]}"
  echo "CMAKE_ARGS ${CMAKE_ARGS:-}"
  echo "python $py $("$py" -c 'import sys; print(sys.version.split()[0])')"
  echo "cxx ${CXX:-c++} $("${CXX:-c++}" --version | head -n1)"
  echo "mpi $(mpicxx --showme:version 2>&1 | head -n1)"
  echo "mpi4py $MPI4PY_VERSION"
}

for tool in mpicxx mpirun cmake; do
  command -v "$tool" >/dev/null ||
    die "$tool missing: run 'bash scripts/setup.sh --mpi' (installs cmake ninja-build libopenmpi-dev openmpi-bin)"
done
BASE_PY=$(base_python) || die "cannot run the interpreter '$PY'"
# the project's binary dlopens libpython: a static-only Python cannot host NEST
[ "$("$BASE_PY" -c 'import sysconfig; print(sysconfig.get_config_var("Py_ENABLE_SHARED"))')" = 1 ] ||
  die "$BASE_PY has no shared libpython (built without --enable-shared); pass another with --python"
MANIFEST=$(build_manifest "$BASE_PY")
KEY=$(printf '%s\n' "$MANIFEST" | sha256sum | cut -c1-12)
NAME=nest-$NEST_VERSION-mpi-omp-$KEY
PREFIX=$CACHE/$NAME

complete() { [ -f "$1/.complete" ] && [ -f "$1/nest-mpi.env" ] && [ -x "$1/venv/bin/python" ]; }

if [ "$print_prefix" = 1 ]; then
  complete "$PREFIX" || exit 1
  echo "$PREFIX"
  exit 0
fi

# --- the acceptance check --------------------------------------------------

# mpirun as root needs explicit permission; --oversubscribe lets a 1-core
# machine run 2 ranks
mpirun_cmd() {
  local -a cmd=(mpirun --oversubscribe)
  [ "$(id -u)" = 0 ] && cmd+=(--allow-run-as-root)
  echo "${cmd[@]}"
}

# Same seed, 2 VPs split as 2 ranks x 1 thread and 1 rank x 2 threads: both
# must pass and give the same network result.
acceptance_check() {
  local prefix=$1 a b
  a=$($(mpirun_cmd) -np 2 "$prefix/venv/bin/python" "$here/nest_mpi_check.py" --procs 2 --threads 1 |
    tail -n1) || return 1
  b=$("$prefix/venv/bin/python" "$here/nest_mpi_check.py" --procs 1 --threads 2 | tail -n1) || return 1
  say "  2 ranks x 1 thread : $a"
  say "  1 rank  x 2 threads: $b"
  "$prefix/venv/bin/python" - "$a" "$b" <<'EOF' || return 1
import json, sys
a, b = (json.loads(x)["network"] for x in sys.argv[1:])
sys.exit(0 if a == b else f"network results differ: {a} vs {b}")
EOF
}

# --- reuse -----------------------------------------------------------------

mkdir -p "$CACHE/builds"
exec 9>"$CACHE/$NAME.lock"
if ! flock -n 9; then
  say "another set-up of $NAME is running; waiting for it"
  flock 9
fi

if complete "$PREFIX"; then
  say "reusing $PREFIX"
  if [ "$check" = 1 ]; then
    acceptance_check "$PREFIX" || die "the cached prefix fails the MPI check"
  fi
  say "done (MPI NEST: $PREFIX/venv/bin/python; paths in $PREFIX/nest-mpi.env)"
  exit 0
fi

# No complete prefix: whatever is left of earlier attempts is untrusted.
for old in "$CACHE/builds/$NAME".*; do
  [ -e "$old" ] || continue
  say "removing unfinished build $old"
  rm -rf -- "$old"
done
[ -L "$PREFIX" ] && rm -f -- "$PREFIX"

# --- build -----------------------------------------------------------------

STORE=$CACHE/builds/$NAME.$(date +%Y%m%dT%H%M%S)
LOG=$STORE/build.log
mkdir -p "$STORE/tmp"
printf '%s\n' "$MANIFEST" >"$STORE/manifest.txt"
say "building $NAME (NEST $NEST_VERSION, MPI + OpenMP) in $STORE"
say "log: $LOG"
T0=$SECONDS

# Every minute: the step's elapsed time and the newest Ninja progress mark.
# (It naps in a waited-for child so that a TERM ends the nap too, which would
# otherwise keep stdout open for up to a minute.)
progress_monitor() {
  local t=$SECONDS progress nap
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    sleep 60 &
    nap=$!
    wait "$nap"
    progress=$(grep -aoE '^ *\[[0-9]+/[0-9]+\]' "$LOG" | tail -n1 | tr -d ' ' || true)
    say "  ... $(hms $((SECONDS - t))) ${progress:+compiled $progress}"
  done
}

# Runs a step with its output in the log; on failure names the step and
# shows the log's tail. The step runs where errexit is off, so the functions
# it calls check every command themselves.
MONITOR=
trap '[ -z "$MONITOR" ] || kill "$MONITOR" 2>/dev/null' EXIT
step() {
  local what=$1 t=$SECONDS rc=0
  shift
  say "[$(hms $((SECONDS - T0)))] $what"
  echo "=== $what: $*" >>"$LOG"
  progress_monitor &
  MONITOR=$!
  "$@" >>"$LOG" 2>&1 || rc=$?
  kill "$MONITOR" 2>/dev/null || true
  wait "$MONITOR" 2>/dev/null || true
  MONITOR=
  if [ "$rc" != 0 ]; then
    echo "setup-mpi: FAILED: $what (exit $rc) after $(hms $((SECONDS - t))); end of $LOG:" >&2
    tail -n 30 "$LOG" | sed 's/^/  | /' >&2
    echo "setup-mpi: the unfinished build stays in $STORE for inspection (not trusted, no .complete; the next call deletes it)" >&2
    exit 1
  fi
}

# the sdist, checksum-verified, in downloads/ (kept across builds)
fetch_sdist() {
  local dl=$CACHE/downloads
  mkdir -p "$dl" || return 1
  if [ -n "${SEQLEARN_NEST_SDIST:-}" ]; then
    cp -- "$SEQLEARN_NEST_SDIST" "$dl/$NEST_SDIST.part" || return 1
  elif echo "$NEST_SDIST_SHA256  $dl/$NEST_SDIST" | sha256sum -c --status 2>/dev/null; then
    return 0
  else
    mkdir -p "$STORE/tmp/dl" &&
      "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary nest-simulator \
        -d "$STORE/tmp/dl" "nest-simulator==$NEST_VERSION" &&
      mv -- "$STORE/tmp/dl/$NEST_SDIST" "$dl/$NEST_SDIST.part" || return 1
  fi
  echo "$NEST_SDIST_SHA256  $dl/$NEST_SDIST.part" | sha256sum -c - ||
    { rm -f "$dl/$NEST_SDIST.part"; echo "checksum mismatch" >&2; return 1; }
  mv -- "$dl/$NEST_SDIST.part" "$dl/$NEST_SDIST"
}

# pip builds in $TMPDIR; scikit-build-core's build dir goes to tmp/build.
# The wheel directory, with the build's log, time and CPU time (a number
# that does not depend on what else runs on the machine), is renamed into
# wheels/ in one go.
build_wheel() {
  local -a settings=("--config-settings=build-dir=$STORE/tmp/build")
  local d t=$SECONDS jobs=${SEQLEARN_BUILD_JOBS:-$(nproc)} out=$STORE/tmp/wheel
  for d in "${NEST_CMAKE_DEFINES[@]}"; do settings+=("--config-settings=cmake.define.$d"); done
  # in a subshell, whose `times` then counts pip and the compilers only
  (
    TMPDIR=$STORE/tmp CMAKE_BUILD_PARALLEL_LEVEL=$jobs \
      "$STORE/venv/bin/python" -m pip wheel -v --disable-pip-version-check --no-deps \
      "${settings[@]}" -w "$out" "$CACHE/downloads/$NEST_SDIST" &&
      times >"$STORE/tmp/times" # (not piped: a pipe runs it in a child without children)
  ) || return 1
  {
    echo "NEST wheel built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(hms $((SECONDS - t))) with $jobs jobs on $(nproc) cores"
    echo "CPU time (user, system): $(tail -n1 "$STORE/tmp/times")"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$out/build-info.txt" &&
    gzip -c "$LOG" >"$out/build.log.gz" &&
    rm -rf -- "$WHEELS" &&
    mv -T -- "$out" "$WHEELS"
}

mkdir -p "$CACHE/wheels"
WHEELS=$CACHE/wheels/$NAME
PIP=("$STORE/venv/bin/python" -m pip install -q --disable-pip-version-check)
step "fetching the sdist (sha256 ${NEST_SDIST_SHA256:0:12}...)" fetch_sdist
step "creating the venv ($BASE_PY)" "$BASE_PY" -m venv "$STORE/venv"
# mpi4py (for the check and for PyNEST scripts) from its binary wheel: it
# loads the system's libmpi at run time; built from source it took 7.5 min
step "installing mpi4py $MPI4PY_VERSION" "${PIP[@]}" "mpi4py==$MPI4PY_VERSION"
built_wheel() { local w=("$WHEELS"/nest_simulator-"$NEST_VERSION"-*.whl); [ -f "${w[0]}" ] && echo "${w[0]}"; }
if wheel=$(built_wheel); then
  say "reusing the NEST wheel built earlier: $wheel"
else
  step "building NEST $NEST_VERSION (${NEST_CMAKE_DEFINES[*]}; the long part)" build_wheel
  wheel=$(built_wheel) || die "pip wheel left no wheel in $WHEELS"
fi
step "installing the wheel and its Python dependencies" "${PIP[@]}" "$wheel"
T_BUILD=$((SECONDS - T0))

# --- describe it -----------------------------------------------------------

# where things are, asked of the venv without importing nest (as build.rs does)
{ read -r nest_dir && read -r libpython; } < <("$STORE/venv/bin/python" -c '
import importlib.util, os, sysconfig
print(list(importlib.util.find_spec("nest").submodule_search_locations)[0])
print(os.path.join(sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")))') ||
  die "the venv in $STORE cannot locate the nest package"
KERNEL=$nest_dir/nestkernel_api.so
INCLUDE=$nest_dir/include/nest
[ -f "$KERNEL" ] || die "no nestkernel_api.so in $nest_dir"
grep -q '^#define HAVE_MPI' "$INCLUDE/config.h" || die "$INCLUDE/config.h has no HAVE_MPI: not an MPI build"
# libstdc++ string ABI of the kernel: new-ABI symbols carry __cxx11 (no
# grep -q: it would close the pipe early, and pipefail would report nm's SIGPIPE)
if nm -DC --defined-only "$KERNEL" | grep 'nest::install_module(std::__cxx11::' >/dev/null; then
  ABI=1
else
  ABI=0
fi
ln -sfn "${nest_dir#"$STORE/"}/include" "$STORE/include"

cat >"$STORE/nest-mpi.env" <<EOF
# NEST $NEST_VERSION with MPI + OpenMP, written by scripts/setup_nest_mpi.sh
# (shell syntax; the paths go through the symlink $PREFIX)
NEST_MPI_PREFIX=$PREFIX
NEST_MPI_PYTHON=$PREFIX/venv/bin/python
NEST_MPI_KERNEL=$PREFIX/${KERNEL#"$STORE/"}
NEST_MPI_INCLUDE=$PREFIX/${INCLUDE#"$STORE/"}
NEST_MPI_LIBPYTHON=$libpython
NEST_MPI_CXX11_ABI=$ABI
NEST_MPI_MPIRUN=$(command -v mpirun)
NEST_MPI_WHEEL=$wheel
EOF

say "[$(hms $((SECONDS - T0)))] MPI acceptance check (2 ranks x 1 thread vs 1 rank x 2 threads)"
acceptance_check "$STORE" ||
  die "FAILED: the MPI acceptance check; the build stays in $STORE (not trusted, no .complete; the next call deletes it)"

rm -rf -- "$STORE/tmp"
gzip -f "$LOG"
{
  printf '%s\n' "$MANIFEST"
  echo "prefix built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(hms "$T_BUILD")"
  cat "$WHEELS/build-info.txt" 2>/dev/null || true
  echo "libstdc++ _GLIBCXX_USE_CXX11_ABI=$ABI"
} >"$STORE/build-info.txt"
printf '%s\n' "$MANIFEST" >"$STORE/.complete"

# publish: rename a fresh symlink over the name (atomic)
ln -sfn "builds/$(basename "$STORE")" "$CACHE/.$NAME.new"
mv -T -- "$CACHE/.$NAME.new" "$PREFIX"
say "built and checked in $(hms $((SECONDS - T0))) (build $(hms "$T_BUILD")); $(du -sh "$STORE" | cut -f1) in $PREFIX"
say "done (MPI NEST: $PREFIX/venv/bin/python; paths in $PREFIX/nest-mpi.env)"
