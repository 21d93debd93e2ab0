#!/usr/bin/env python3
"""BENCHMARKS.md table from bench/results/*.json (written by bench/run.sh).

Roofline: decode reads every weight byte once per step, so tokens/s x file size
is the weight bandwidth a step reaches; the issue gives ~68 GB/s for this kind
of machine. llama.cpp figures are the ones quoted in the performance issue
(Feb 2025 CPU build, 2 threads, Qwen2.5-0.5B shape): not a side-by-side run."""
import json, pathlib, sys

ROOF = 68e9
LLAMA = {("qwen2.5-0.5b", "q8_0"): {"pp128": 226, "tg64": 50}, ("qwen2.5-0.5b", "q4_k_m"): {"pp128": 175, "tg64": 47}}
res = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
print("| model | type | file MiB | test | t/s (median) | spread | llama.cpp (quoted) | ratio | vs 1 sequence | weight GB/s (roofline) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
rss = []
for f in sorted(res.glob("*.json")):
    if f.name.startswith("soft"):
        continue
    like, typ = f.stem.rsplit("-", 1)
    rows = json.loads(f.read_text())
    tg1 = next((r["tps_median"] for r in rows if r["test"] == "tg64"), None)
    runs1 = next((r.get("tps_runs") for r in rows if r["test"] == "tg64" and r.get("interleaved")), None)
    for r in rows:
        t, med = r["test"], r["tps_median"]
        ref = LLAMA.get((like, typ), {}).get(t)
        ratio = f"{med / ref:.2f}x" if ref else ""
        vs1 = f"{med / tg1:.2f}x" if t.startswith("tg64 x") and tg1 else ""
        if vs1 and runs1 and r.get("interleaved") and len(r.get("tps_runs", [])) == len(runs1):
            # interleaved runs: round i of this test and of tg64 ran back to back
            q = sorted(a / b for a, b in zip(r["tps_runs"], runs1))
            vs1 += f" (rounds {q[0]:.2f} .. {q[-1]:.2f})"
        gbs = ""
        if t == "tg64":
            bw = r["file_bytes"] * med
            gbs = f"{bw / 1e9:.1f} ({100 * bw / ROOF:.0f}%)"
        print(f'| {like} | {typ} | {r["file_bytes"] / 1048576:.1f} | {t} | {med:.2f} | {r["tps_min"]:.2f} .. {r["tps_max"]:.2f} | '
              f'{ref or ""} | {ratio} | {vs1} | {gbs} |')
    last = rows[-1]
    if "peak_rss_bytes" in last:
        rss.append((like, typ, last["peak_rss_bytes"], last["file_bytes"], last["kv_bytes"]))
if rss:
    print()
    print("| model | type | peak RSS MiB | file MiB | KV cache MiB | RSS / (file + KV) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for like, typ, r, f, kv in rss:
        print(f"| {like} | {typ} | {r / 1048576:.1f} | {f / 1048576:.1f} | {kv / 1048576:.1f} | {r / (f + kv):.3f} |")
