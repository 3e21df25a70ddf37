#!/bin/sh
# Help everywhere: `nabla CMD --help` exits 0 with the usage on stdout, an
# unknown option exits 2 with the usage on stderr, `nabla --version` works,
# and the manual pages cannot drift from the tool: nabla(1) names every
# command and option the tool prints, nabla-config(5) every key, and its
# example config runs.
set -u
bin=${NB_BUILDDIR:-.}/nabla
srcdir=${NB_SRCDIR:-.}
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

commands=$("$bin" help | sed -n 's/^  \([a-z][a-z]*\) .*/\1/p')
[ -n "$commands" ] && ok "nabla help lists commands: $(echo $commands)" || bad "nabla help"
for c in $commands; do
    "$bin" "$c" --help >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ "$rc" -eq 0 ] && grep -q "^usage: nabla $c" "$tmp/out" && [ ! -s "$tmp/err" ] \
        && ok "nabla $c --help: exit 0, usage on stdout" || bad "nabla $c --help (exit $rc)"
    "$bin" help "$c" | cmp -s - "$tmp/out" && ok "nabla help $c is the same text" || bad "nabla help $c"
    "$bin" "$c" -h >/dev/null 2>&1 && ok "nabla $c -h" || bad "nabla $c -h"
    [ "$c" = help ] && continue
    "$bin" "$c" --no-such-option >"$tmp/out" 2>"$tmp/err"; rc=$?
    [ "$rc" -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q "^usage: nabla $c" "$tmp/err" \
        && ok "nabla $c --no-such-option: exit 2, usage on stderr" || bad "nabla $c unknown option (exit $rc)"
done
"$bin" --version >"$tmp/out" 2>&1 && grep -q '^nabla [0-9]' "$tmp/out" && ok "nabla --version" || bad "--version"
"$bin" --help >"$tmp/out" 2>&1 && grep -q '^usage: nabla' "$tmp/out" && ok "nabla --help" || bad "--help"
"$bin" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] && grep -q usage "$tmp/err" && ok "no command: exit 2" || bad "no command"
"$bin" run --set a=b --help >/dev/null 2>&1 && ok "--help after other options" || bad "--help after options"

# nabla(1) names every command and every option the tool prints
man1=$srcdir/docs/nabla.1
for c in $commands; do
    grep -q "^\.B[IR]* *$c\b" "$man1" && ok "nabla.1 documents $c" || bad "nabla.1 lacks command $c"
done
for c in $commands; do "$bin" help "$c"; done | grep -o -- '--[a-z][a-z-]*' | sort -u >"$tmp/opts"
while read -r o; do
    troff=$(echo "$o" | sed 's/-/\\\\-/g')
    grep -q -- "$troff" "$man1" && ok "nabla.1 documents $o" || bad "nabla.1 lacks option $o"
done <"$tmp/opts"

# nabla-config(5) is generated from the schema: every key, and a runnable example
"$bin" keys --man >"$tmp/man5" 2>&1 && ok "nabla keys --man" || bad "keys --man"
"$bin" keys | awk '{print $1}' >"$tmp/keys"
missing=0
while read -r k; do grep -q "^\.B $(echo "$k" | sed 's/-/\\\\-/g')\$" "$tmp/man5" || { missing=1; echo "missing key $k"; }; done <"$tmp/keys"
[ "$missing" -eq 0 ] && ok "nabla-config.5 lists every key of nabla keys" || bad "nabla-config.5 keys"
sed -n '/^\.SH EXAMPLES/,/^\.fi/p' "$tmp/man5" | sed '1,2d;$d' | sed 's/\\-/-/g' >"$tmp/example.conf"
"$bin" run "$tmp/example.conf" --set train.epochs=3 --out "$tmp/run" --quiet >"$tmp/run.log" 2>&1 \
    && [ -s "$tmp/run/costs.csv" ] && ok "the example of nabla-config(5) runs" || { bad "man5 example"; cat "$tmp/run.log"; }

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
