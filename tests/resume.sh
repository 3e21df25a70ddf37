#!/bin/sh
# A run killed with SIGKILL and resumed with `nabla run --resume` ends with
# the same costs.csv and results.txt as a run that was never interrupted.
set -u
bin=${NB_BUILDDIR:-.}/nabla
conf=${NB_SRCDIR:-.}/experiments/moons.conf
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
sets="--set train.epochs=30000 --set train.checkpoint_every=1500 --set log.every=1"

# shellcheck disable=SC2086
"$bin" run "$conf" --out "$tmp/ref" --quiet $sets || bad "reference run"

# shellcheck disable=SC2086
"$bin" run "$conf" --out "$tmp/cut" --quiet $sets &
pid=$!
i=0
while [ ! -f "$tmp/cut/checkpoint.nbk" ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i + 1)); done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if grep -q '"status": "running"' "$tmp/cut/meta.json"; then
    ok "killed mid-run ($(($(wc -l <"$tmp/cut/costs.csv") - 1)) rows written)"
else
    bad "the run finished before it could be killed"
fi
"$bin" run --resume "$tmp/cut" --quiet && ok "resume exits 0" || bad "resume"
cmp -s "$tmp/ref/costs.csv" "$tmp/cut/costs.csv" && ok "costs.csv identical" || bad "costs.csv differs"
cmp -s "$tmp/ref/results.txt" "$tmp/cut/results.txt" && ok "results.txt identical" || bad "results.txt differs"
grep -q '"status": "finished"' "$tmp/cut/meta.json" && ok "meta.json says finished" || bad "meta.json status"
[ ! -f "$tmp/cut/checkpoint.nbk" ] && ok "checkpoint removed at the end" || bad "checkpoint left behind"
"$bin" run --resume "$tmp/nowhere" --quiet 2>"$tmp/err"; [ $? -eq 2 ] && grep -q "no run" "$tmp/err" \
    && ok "resume of nothing: exit 2 with a message" || bad "resume of nothing"
echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
