#!/usr/bin/env bash
# Soft thinking against discrete thinking on the embedded arithmetic model:
# the same held-out problems for every setting. Prints a markdown table (the
# one in README.md) and keeps the raw JSON lines.
#   bash tools/eval_soft.sh [n] [model] [threads]
set -euo pipefail
n=${1:-500}
model=${2:-models/arith-gpt2.gguf}
threads=${3:-2}
st=build/softthink
out=${OUT:-build/eval-soft.jsonl}
: > "$out"
run() { # label, flags...
  local label=$1; shift
  "$st" eval --task arith -m "$model" --n "$n" --seed 1 -t "$threads" --json "$@" |
    python3 -c 'import json,sys; l=sys.argv[1]; [print(json.dumps(dict(json.loads(x), label=l))) for x in sys.stdin if x.strip()]' "$label" >> "$out"
  echo "done: $label" >&2
}
# thinking distribution as in the Soft Thinking paper: temperature 0.6, top-p 0.95,
# top-k 30, min-p 0.001; the answer after </think> is greedy in every row
samp="--temp 0.6 --top-k 30 --top-p 0.95 --min-p 0.001 --after-thinking-temp 0"
run "no thinking (greedy)" --no-think
run "discrete thinking, greedy" --temp 0
run "discrete thinking, sampled" $samp
for k in 1 5 10; do
  for cold in 0 0.01; do
    for gumbel in 0 0.5; do
      flags="--soft-thinking --max-topk $k --cold-stop-entropy $cold --cold-stop-length 16"
      [ "$gumbel" = 0 ] || flags="$flags --gumbel-tau $gumbel"
      label="soft, max_topk $k"
      [ "$cold" = 0 ] && label="$label, no cold stop" || label="$label, cold stop (H < $cold nats for 16 steps)"
      [ "$gumbel" = 0 ] || label="$label, Gumbel tau $gumbel"
      run "$label" $samp $flags
    done
  done
done
# A hotter thinking distribution, unfiltered (top-k off, top-p 1, min-p 0): here the
# sampled token and the concept token differ most. Cold stop off in every row.
for temp in 1 2 3 4; do
  hot="--temp $temp --top-k 0 --top-p 1 --min-p 0 --after-thinking-temp 0"
  run "T $temp: discrete thinking, sampled" $hot
  run "T $temp: soft, max_topk 5" $hot --soft-thinking --max-topk 5 --cold-stop-entropy 0
  run "T $temp: soft, max_topk 10" $hot --soft-thinking --max-topk 10 --cold-stop-entropy 0
  run "T $temp: soft, max_topk 10, Gumbel tau 0.5" $hot --soft-thinking --max-topk 10 --cold-stop-entropy 0 --gumbel-tau 0.5
done
python3 - "$out" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| setting | n | accuracy | 95% CI | mean thinking tokens | mean answer tokens | ended by cold stop | not ended | thinking entropy (nats) | concept top-1 weight |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    lo, hi = r["ci95_low"], r["ci95_high"]
    cold = r.get("thinking_ended", {}).get("cold_stop", 0)
    open_ = r.get("thinking_ended", {}).get("not_ended", 0)
    ent = r.get("mean_thinking_entropy")
    top1 = r.get("mean_concept_top1_weight")
    print(f'| {r["label"]} | {r["n"]} | {100*r["accuracy"]:.1f}% | {100*lo:.1f}–{100*hi:.1f}% | '
          f'{r["mean_thinking_tokens"]:.1f} | {r["mean_answer_tokens"]:.1f} | {cold} | {open_} | '
          f'{"" if ent is None else f"{ent:.4f}"} | {"" if top1 is None else f"{top1:.4f}"} |')
EOF
