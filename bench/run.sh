#!/usr/bin/env bash
# Reproduce BENCHMARKS.md: synthesize real-shape models with random weights,
# run `softthink bench` on each (repetitions interleaved: every round runs
# every test, so the ratios compare runs under the same machine conditions),
# and write bench/results/*.json, the SVG plot and probe.txt (bench_probe before and after).
#   bash bench/run.sh [threads] [reps]
set -euo pipefail
threads=${1:-2}
reps=${2:-3}
st=build/softthink
out=bench/results
models=${MODELS_DIR:-/tmp/softthink-bench}
mkdir -p "$out" "$models"
make -s all bench-tools
# what the (shared) machine gives, before and after: latency, bandwidth, dot throughput
build/bench_probe "$threads" > "$out/probe.txt"
for like in qwen2.5-0.5b qwen3-0.6b; do
  for type in q8_0 q4_k_m bf16; do
    m="$models/$like-$type.gguf"
    [ -f "$m" ] || "$st" synth --like "$like" --type "$type" -o "$m"
    echo "== $like $type" >&2
    "$st" bench -m "$m" -p 128 -n 64 -b 1,4,8 -t "$threads" -r "$reps" --interleave --json > "$out/$like-$type.json"
  done
done
m="$models/qwen2.5-0.5b-q8_0.gguf"
"$st" bench -m "$m" -p 0 -n 64 -b 1 -t "$threads" -r "$reps" --soft-thinking --interleave --json > "$out/soft-overhead.json"
build/bench_sample > "$out/sample.md"
python3 bench/plot.py "$out" > "$out/batch.svg"
python3 bench/table.py "$out" > "$out/table.md"
build/bench_probe "$threads" >> "$out/probe.txt"
echo "results in $out" >&2
