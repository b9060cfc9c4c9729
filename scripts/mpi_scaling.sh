#!/usr/bin/env bash
# Weak and strong scaling of the NEST backend under MPI (issue 14; results
# and the projection to large grids: docs/scaling.md).
#
#   bash scripts/mpi_scaling.sh [--ranks "1 2"] [--weak GRID] [--strong GRID]
#                               [--train MS] [--out DIR]
#
#   --ranks   rank counts to run (default "1 2"); 1 thread per rank
#   --weak    grid per rank of the weak-scaling series (default 10x10): R ranks
#             simulate a grid of R times as many rows
#   --strong  fixed grid of the strong-scaling series (default 20x20)
#   --train   training time (ms, default 2000); readout-fit and test 100 ms each
#   --out     directory for the runs and scaling.csv (default runs/mpi-scaling;
#             replaced)
#
# Every run is `mpirun -np R seqlearn-nest simulate --backend nest --threads 1`
# of the paper's model with 20 connected circuit pairs per circuit (as
# `bench --scaling`: ~1320 synapses per circuit), nothing recorded, no
# analysis. Per run it reports the
# real-time factor (simulate wall time / simulated time), synapse updates per
# second (synapses x steps / simulate wall time, as `bench`), the peak
# resident memory of each rank (/usr/bin/time), and the wall time each rank
# spends in NEST's two per-step collectives (a PMPI wrapper,
# scripts/mpi_exchange_timer.c): MPI_Alltoallv carries the circuit
# normalisation exchange (secondary events), MPI_Alltoall the spikes. Their
# share is of the simulate wall time and includes waiting for the slowest rank.
#
# Needs `bash scripts/setup.sh --mpi` and `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."

ranks="1 2"
weak=10x10
strong=20x20
train=2000
out=runs/mpi-scaling
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=${2:?}; shift ;;
    --weak) weak=${2:?}; shift ;;
    --strong) strong=${2:?}; shift ;;
    --train) train=${2:?}; shift ;;
    --out) out=${2:?}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "mpi_scaling: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for r in $ranks; do
  [[ "$r" =~ ^[1-9][0-9]*$ ]] || { echo "mpi_scaling: --ranks: '$r' is not a rank count >= 1" >&2; exit 2; }
done
for g in "$weak" "$strong"; do
  [[ "$g" =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || { echo "mpi_scaling: grid '$g' is not NxM" >&2; exit 2; }
done
[[ "$train" =~ ^[1-9][0-9]*$ ]] || { echo "mpi_scaling: --train: '$train' is not a time in ms >= 1" >&2; exit 2; }

bin=$PWD/target/release/seqlearn-nest
[ -x "$bin" ] || { echo "mpi_scaling: $bin missing (cargo build --release)" >&2; exit 1; }
command -v mpicc >/dev/null || { echo "mpi_scaling: mpicc missing (bash scripts/setup.sh --mpi)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "mpi_scaling: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
timer=$out/libmpi_exchange_timer.so
mpicc -shared -fPIC -O2 -o "$timer" scripts/mpi_exchange_timer.c

mpirun_cmd=(mpirun --oversubscribe)
[ "$(id -u)" = 0 ] && mpirun_cmd+=(--allow-run-as-root)
csv=$out/scaling.csv
echo "series,ranks,grid,neurons,synapses,simulated_s,wall_simulate_s,rtf,synapse_updates_per_s,peak_rss_mib_max,alltoallv_share,alltoall_share" >"$csv"

# one run: series, ranks, grid
run() {
  local series=$1 r=$2 grid=$3 dir=$out/$1-$2-$3
  local n=${grid%x*} m=${grid#*x}
  mkdir -p "$dir.meta"
  cat >"$dir.meta/config.toml" <<EOF
# the paper's model at grid $grid, 20 pairs per circuit (scripts/mpi_scaling.sh)
[network]
grid = [$n, $m]
n_conn = $((20 * n * m))
[record]
neurons = "none"
synapses = "none"
EOF
  echo "mpi_scaling: $series, $r rank(s), grid $grid" >&2
  OMP_WAIT_POLICY=passive SEQLEARN_MPI_TIMING=$dir.meta/timing.txt \
    "${mpirun_cmd[@]}" -np "$r" -x OMP_WAIT_POLICY -x SEQLEARN_MPI_TIMING \
    bash -c 'LD_PRELOAD='"$timer"' exec /usr/bin/time -f %M -o "'"$dir"'.meta/rss.${OMPI_COMM_WORLD_RANK:-0}" "$@"' _ \
    "$bin" simulate --backend nest --threads 1 --config "$dir.meta/config.toml" \
    --train "$train" --test 100 --seed 1 --no-analysis --quiet --out "$dir"
  python3 - "$dir" "$series" "$r" "$grid" >>"$csv" <<'EOF'
import glob, json, re, sys
d, series, r, grid = sys.argv[1:]
s = json.load(open(f"{d}/summary.json"))
assert s["parallel"]["ranks"] == int(r), s["parallel"]
wall = s["wall_s"]["simulate"]
steps = s["simulated_ms"] / s["config"]["model"]["dt_ms"]
rss = max(int(open(p).read().split()[-1]) for p in glob.glob(f"{d}.meta/rss.*")) / 1024
t = [dict(kv.split("=") for kv in line.split()) for line in open(f"{d}.meta/timing.txt")]
v = max(float(x["alltoallv_s"]) for x in t) / wall
a = max(float(x["alltoall_s"]) for x in t) / wall
c = s["counts"]
print(f'{series},{r},{grid},{c["neurons"]},{c["synapses"]},{s["simulated_ms"] / 1e3:.3f},{wall:.3f},'
      f'{s["rtf"]:.4f},{c["synapses"] * steps / wall:.4e},{rss:.1f},{v:.4f},{a:.4f}')
EOF
}

rows=${weak%x*}
cols=${weak#*x}
for r in $ranks; do run weak "$r" "$((rows * r))x$cols"; done
for r in $ranks; do run strong "$r" "$strong"; done
column -s, -t "$csv"
echo "mpi_scaling: table in $csv"
