#!/usr/bin/env bash
# The one short device check for a session lent an NVIDIA GPU (run from the repo root):
# the CUDA engine against the NumPy reference bit for bit (4,096 seeds of the posted cell,
# the simulator-sized cases and the new factors: Adam, shuffled order, float32, death tracking),
# then the throughput benchmark at >= 2**20 runs. At most ~5 minutes (each step has a
# timeout); give the call a timeout that leaves room for a rerun.
set -euo pipefail
timeout 120 python -m pip install --quiet -e '.[gpu,test]'
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
timeout 240 python -m pytest -q tests/test_engines.py tests/test_ieee_math.py tests/test_new_factor_engines.py \
  -k "cuda or gpu or ieee" -rs
timeout 150 python benchmarks/bench_engines.py --cuda --epochs 500 --runs 4096
