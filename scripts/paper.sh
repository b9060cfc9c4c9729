#!/usr/bin/env bash
# The main job: set up, build, and run the paper's one-pattern experiment
# (100 s training, full scale) on NEST. Extra arguments go to `simulate`,
# e.g. `bash scripts/paper.sh --backend native --out runs/paper-native`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
exec ./target/release/seqlearn-nest simulate --config experiments/paper_one_pattern.toml \
  --backend nest --out runs/paper --force "$@"
