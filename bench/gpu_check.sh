#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, after `make` (nothing else is installed): the CPU-vs-CUDA
# cross-checks (pytest tests -k cuda) and the CUDA benchmark rows (the ladder's and the
# training workloads'), within five minutes; writes JSON and a rendered table into
# bench/results/ and prints the card's name. Never run on a card yet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=bench/results/gpu-$stamp
mkdir -p bench/results
card=$("$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA device"; print(torch.cuda.get_device_name())')
echo "card: $card"
timeout 150 "$PY" -m pytest tests -k cuda -q -p no:cacheprovider | tee "$out-tests.txt"
timeout 150 "$PY" -m pytest bench -k "cuda" -q -p no:cacheprovider \
    --benchmark-json "$out.json" | tee "$out-bench.txt"
"$PY" bench/report.py --render-only "$out.json" || true
echo "card: $card; results: $out.json, $out-tests.txt, $out-bench.txt"
