#!/usr/bin/env bash
# make demo: run the engine on the default model.
set -euo pipefail
build=${1:-build}
st="$build/softthink"
shared=${SOFTTHINK_SHARED:-../shared}
if [ -f "$shared/models/stories260K.gguf" ]; then
  model="$shared/models/stories260K.gguf"
else
  model="$build/demo-tiny.gguf"
  [ -f "$model" ] || "$st" synth --like tiny --type q8_0 -o "$model"
fi
echo "== softthink info"
"$st" info -m "$model"
echo
echo "== greedy generation (temperature 0), prompt ids = \"<s> Once upon a time\""
"$st" generate -m "$model" --ids "1 403 407 261 378" -n 64 --temp 0 --print-ids
