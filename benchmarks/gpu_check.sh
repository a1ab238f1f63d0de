#!/usr/bin/env bash
# The one short device check for a session lent an NVIDIA GPU (run from the repo root):
# the CUDA engine against the NumPy reference bit for bit (4,096 seeds of the posted cell,
# plus the simulator-sized cases), then the throughput benchmark at >= 2**20 runs.
# About 2 minutes; give it a timeout that leaves room for a rerun.
set -euo pipefail
python -m pip install --quiet -e '.[gpu,test]'
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
python -m pytest -q tests/test_engines.py tests/test_ieee_math.py -k "cuda or gpu or ieee" -rs
python benchmarks/bench_engines.py --cuda --epochs 500 --runs 4096
