#!/bin/sh
# The nabla tool end to end: info, ops, check (exit codes and outputs).
set -u
bin=${NB_BUILDDIR:-.}/nabla
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

"$bin" info >"$tmp/info" 2>&1 && grep -q '^blas (bound):' "$tmp/info" && ok "info names the bound BLAS" || bad "info"
"$bin" ops >"$tmp/ops" 2>&1 || bad "ops exit status"
for op in sigmoid matmul softmax_ce gelu_tanh leaky_relu; do
    grep -q "^$op " "$tmp/ops" && ok "ops lists $op" || bad "ops lists $op"
done
n_ops=$(($(wc -l <"$tmp/ops") - 1))
"$bin" check >"$tmp/check" 2>&1; rc=$?
[ "$rc" -eq 0 ] && ok "check exits 0" || { bad "check exit $rc"; cat "$tmp/check"; }
grep -q "nabla check: $n_ops ops, $n_ops passed, 0 failed" "$tmp/check" && ok "check summary covers all $n_ops ops" || bad "check summary"
[ "$(grep -c ' ok ' "$tmp/check")" -eq "$n_ops" ] && ok "one line per op" || bad "one line per op"
"$bin" check --op relu --seed 7 --json >"$tmp/json" 2>&1 && [ "$(wc -l <"$tmp/json")" -eq 3 ] \
    && grep -q '"target":"op relu"' "$tmp/json" && grep -q '"seed":7' "$tmp/json" && ok "check --op --seed --json" || bad "json"
"$bin" check --op tanh --directional >/dev/null 2>&1 && ok "directional" || bad "directional"
"$bin" check --op tanh --seeds 1 --verbose >"$tmp/verbose" 2>&1 && grep -q "^  block " "$tmp/verbose" \
    && grep -q "t1.in1" "$tmp/verbose" && ok "check --verbose prints the block table" || bad "verbose"
"$bin" check --graph >"$tmp/graph" 2>&1; rc=$?
[ "$rc" -eq 0 ] && grep -q "graph (17 parameters in 4 tensors): PASS" "$tmp/graph" \
    && grep -q "^  W1  *2x4  *8  *0" "$tmp/graph" && grep -q "rel_diff" "$tmp/graph" \
    && ok "check --graph: PASS with a block per parameter" || { bad "check --graph ($rc)"; cat "$tmp/graph"; }
"$bin" check --graph --json >"$tmp/gjson" 2>&1 && grep -q '"blocks":\[{"name":"W1"' "$tmp/gjson" \
    && grep -q '"diagnosis":\[\]' "$tmp/gjson" && ok "check --graph --json" || bad "graph json"
"$bin" check --op no_such_op >"$tmp/err" 2>&1; rc=$?
[ "$rc" -eq 2 ] && grep -q "unknown op 'no_such_op'" "$tmp/err" && ok "unknown op: exit 2 and message" || bad "unknown op ($rc)"
"$bin" check --seed abc >"$tmp/err" 2>&1; [ $? -eq 2 ] && ok "bad seed: exit 2" || bad "bad seed"
"$bin" check --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown option: exit 2" || bad "unknown option"
"$bin" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown command: exit 2" || bad "unknown command"
"$bin" demo >"$tmp/demo" 2>&1 && grep -q 'learned' "$tmp/demo" && ok "demo learns XOR" || { bad "demo"; cat "$tmp/demo"; }

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
