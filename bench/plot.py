#!/usr/bin/env python3
"""tokens/s against batch size (sequences decoding together) from bench/results/*.json, as SVG."""
import json, pathlib, sys

res = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
series = {}
for f in sorted(res.glob("*.json")):
    if f.name.startswith("soft"):
        continue
    for r in json.loads(f.read_text()):
        t = r["test"]
        if not t.startswith("tg") or "think" in t or "soft" in t:
            continue
        b = int(t.split(" x")[1]) if " x" in t else 1
        series.setdefault(f.stem, []).append((b, r["tps_median"]))
W, H, L, B = 640, 400, 60, 340
ymax = max((v for s in series.values() for _, v in s), default=1) * 1.1
xs = sorted({b for s in series.values() for b, _ in s}) or [1]
X = lambda b: L + (W - L - 160) * (xs.index(b) / max(1, len(xs) - 1))
Y = lambda v: B - (B - 40) * v / ymax
cols = ["#2f6fd0", "#ff9f1c", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="10" y="20" font-size="14">softthink decode: tokens/s against sequences decoding together (tg64)</text>',
       f'<line x1="{L}" y1="{B}" x2="{W-150}" y2="{B}" stroke="#333"/><line x1="{L}" y1="40" x2="{L}" y2="{B}" stroke="#333"/>']
for b in xs:
    out.append(f'<text x="{X(b)-4:.0f}" y="{B+16}">{b}</text>')
for k in range(5):
    v = ymax * k / 4
    out.append(f'<text x="8" y="{Y(v)+4:.0f}">{v:.0f}</text>')
for i, (name, pts) in enumerate(sorted(series.items())):
    pts.sort()
    c = cols[i % len(cols)]
    out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="' + " ".join(f"{X(b):.1f},{Y(v):.1f}" for b, v in pts) + '"/>')
    out += [f'<circle cx="{X(b):.1f}" cy="{Y(v):.1f}" r="3" fill="{c}"/>' for b, v in pts]
    out.append(f'<text x="{W-145}" y="{60+18*i}" fill="{c}">{name}</text>')
out.append(f'<text x="{(W-150)/2:.0f}" y="{H-20}">sequences (batch)</text></svg>')
print("\n".join(out))
