#!/usr/bin/env bash
# `make test` N times in a row (default 5) on a fresh clone of this repository
# inside a private (0700) directory made by mktemp -d, as a new user's root
# would; stops at the first failure. Usage: scripts/fresh_clone_runs.sh [N] [LOG]
set -uo pipefail
runs=${1:-5}
log=${2:-/tmp/fresh_clone_runs.txt}
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
chmod 700 "$dir"
git clone -q "$repo" "$dir/main"
# The conformance corpora live beside the checkout.
[ -e "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$dir/shared"
cd "$dir/main" || exit 1
echo "fresh clone at $dir/main, commit $(git rev-parse --short HEAD)" > "$log"
for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  bash .ci/run > "$log.$i" 2>&1
  rc=$?
  summary=$(grep -E '[0-9]+ passed' "$log.$i" | tail -1)
  echo "run $i: rc=$rc $(( $(date +%s) - start )) s $summary" >> "$log"
  [ "$rc" -eq 0 ] || { echo "stopped: run $i failed (see $log.$i)" >> "$log"; exit "$rc"; }
done
echo "all $runs runs passed" >> "$log"
