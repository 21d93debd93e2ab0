#!/usr/bin/env bash
# Run test binaries, add up their "N passed, N failed" lines; last line is the total.
build=$1; shift
pass=0; fail=0
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed$' | tail -n1)
  if [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -n 20
    echo "$(basename "$t"): crashed or printed no summary (exit $rc)"
    fail=$((fail + 1)); continue
  fi
  p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
  f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "$(basename "$t"): exit $rc"; fi
  [ "$f" -ne 0 ] && printf '%s\n' "$out" | grep -E '^FAIL' | head -n 20
  echo "$line"
  pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
