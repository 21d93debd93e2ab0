#!/usr/bin/env bash
# make demo: the embedded reasoning model solves held-out problems with discrete
# thinking and with soft thinking, then a soft-thinking trace is rendered as a page.
# Needs nothing from the network or from ../shared.
set -euo pipefail
build=${1:-build}
st="$build/softthink"
model=$(ls models/*.gguf 2>/dev/null | head -n 1 || true)
if [ -z "$model" ]; then
  echo "demo: no model in models/ (see README, 'Our own reasoning model')" >&2
  exit 1
fi
echo "== model"
"$st" info -m "$model"
echo
echo "== 6 held-out arithmetic problems, discrete thinking (greedy)"
"$st" eval --task arith -m "$model" --n 6 --seed 2026 --verbose 2>&1 | sed 's/^\[think\] /  /'
echo
echo "== the same problems, soft thinking (concept tokens from temperature 0.6, top-p 0.95, max_topk 10; greedy answer)"
"$st" eval --task arith -m "$model" --n 6 --seed 2026 --soft-thinking --temp 0.6 --after-thinking-temp 0 --verbose 2>&1 | sed 's/^\[soft\] /  /'
echo
echo "== 100 held-out problems, thinking sampled at temperature 3 (top-k/top-p/min-p off): discrete vs soft (max_topk 5)"
hot="--temp 3 --top-k 0 --top-p 1 --min-p 0 --after-thinking-temp 0"
"$st" eval --task arith -m "$model" --n 100 --seed 2026 $hot | tail -n 3
"$st" eval --task arith -m "$model" --n 100 --seed 2026 $hot --soft-thinking --max-topk 5 --cold-stop-entropy 0 | tail -n 1
echo
q=$("$st" task arith --split test --seed 2026 --n 1 --questions 2>/dev/null | head -n 1 || true)
[ -n "$q" ] || q="Ann has 23 apples. She buys 17 more, then gives 9 away. How many apples does she have?"
echo "== one problem with a trace: $q"
mkdir -p "$build/demo"
"$st" generate -m "$model" --chat --prompt "$q" --soft-thinking --temp 0.6 --after-thinking-temp 0 --seed 1 -n 160 \
  --trace "$build/demo/trace.jsonl"
"$st" trace-view "$build/demo/trace.jsonl" -o "$build/demo/trace.html"
echo "trace: $build/demo/trace.jsonl, page: $build/demo/trace.html"
