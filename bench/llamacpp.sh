#!/usr/bin/env bash
# Side by side with llama.cpp on this machine: Debian sid's llama.cpp (the
# llama.cpp-tools package; Debian 12 has none) in a minimal sid chroot, and
# softthink, alternating on the same GGUF files (synthetic Qwen shapes with a
# real Qwen vocabulary, which llama.cpp needs to load them). Needs root and
# deb.debian.org; not part of `make test`.
#   bash bench/llamacpp.sh [rounds] [threads]
set -euo pipefail
rounds=${1:-3}
threads=${2:-2}
root=${SID_ROOT:-/srv/sid}
models=${LCPP_MODELS:-/tmp/softthink-lcpp}
shared=${SOFTTHINK_SHARED:-../shared}
st=build/softthink
make -s all bench-tools
if [ ! -x "$root/usr/bin/llama-bench" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  [ -d "$root/usr" ] || debootstrap --variant=minbase sid "$root" http://deb.debian.org/debian
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # the mirror's Release file may be older than its Valid-Until on this machine's clock
  chroot "$root" apt-get -o Acquire::Check-Valid-Until=false update -q
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get -o Acquire::Check-Valid-Until=false install -y -q \
    --no-install-recommends llama.cpp-tools
fi
mkdir -p "$models" "$root/lcpp"
mountpoint -q "$root/lcpp" || mount --bind "$models" "$root/lcpp"
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
for spec in qwen2.5-0.5b:q8_0 qwen2.5-0.5b:q4_k_m qwen3-0.6b:q4_k_m; do
  m="$models/${spec%%:*}-${spec##*:}.gguf"
  [ -f "$m" ] || "$st" synth --like "${spec%%:*}" --type "${spec##*:}" --vocab "$shared/tokenizers/qwen3-vocab.gguf" -o "$m"
done
chroot "$root" llama-bench --version 2>&1 | grep -E "^(version|built)"
for r in $(seq "$rounds"); do
  echo "# round $r $(date -u +%H:%M:%S) $(build/bench_probe "$threads" | tr '\n' ' ')"
  for name in qwen2.5-0.5b-q8_0 qwen2.5-0.5b-q4_k_m qwen3-0.6b-q4_k_m; do
    "$st" bench -m "$models/$name.gguf" -p 128 -n 64 -b 1 -t "$threads" -r 3 --interleave 2>&1 |
      grep -E "\| (pp128|tg64) \|" | awk -F'|' -v m="$name" '{gsub(/ /,"",$7); gsub(/ /,"",$8); print "softthink", m, $7, $8}'
    chroot "$root" llama-bench -m "/lcpp/$name.gguf" -p 128 -n 64 -t "$threads" -r 3 2>/dev/null |
      grep -E "pp128|tg64" | awk -F'|' -v m="$name" '{gsub(/ /,"",$7); gsub(/ /,"",$8); print "llama.cpp", m, $7, $8}'
  done
done
