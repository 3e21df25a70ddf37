#!/bin/sh
# docs/gradcheck.md shows the output of docs/examples/ex4_example.c (the
# worked example "Finding the bug"): the text between the line
# "<!-- output of tests/example_ex4 -->" and the end of the fenced block
# after it must be what the program prints, numbers with a decimal point or
# an exponent, evaluation counts, passing rows and the worst coordinate
# masked (they move with the last bits of libm; the verdicts, counts, names
# of failing coordinates and diagnoses do not).
set -u
src=${NB_SRCDIR:-.}
bin=${NB_BUILDDIR:-.}/tests/example_ex4
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
mask() {
    sed -E -e 's/.* pass$/  (a passing row)/' -e 's/worst: coordinate [0-9]+ \([^)]*\)/worst: coordinate C/' \
        -e 's/[0-9]+ evaluations/N evaluations/g' \
        -e 's/-?[0-9]*\.[0-9]+(e[-+]?[0-9]+)?/#/g' -e 's/-?[0-9]+e[-+]?[0-9]+/#/g' \
        -e 's/[[:space:]]+/ /g' -e 's/ $//'
}
"$bin" >"$tmp/out" 2>&1 || { echo "FAIL: example_ex4 exits non-zero"; cat "$tmp/out"; exit 1; }
awk '/^<!-- output of tests\/example_ex4 -->$/ { on = 1; next }
     on == 1 && /^```/ { on = 2; next }
     on == 2 && /^```/ { exit }
     on == 2 { print }' "$src/docs/gradcheck.md" >"$tmp/doc"
[ -s "$tmp/doc" ] || { echo "FAIL: no output block in docs/gradcheck.md"; exit 1; }
mask <"$tmp/out" >"$tmp/out.m"
mask <"$tmp/doc" >"$tmp/doc.m"
if diff -u "$tmp/doc.m" "$tmp/out.m"; then
    echo "ok: docs/gradcheck.md shows what example_ex4 prints"
else
    echo "FAIL: docs/gradcheck.md and example_ex4 differ (masked diff above)"
    exit 1
fi
