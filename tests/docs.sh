#!/bin/sh
# Docs that cannot drift.  Every fenced block in docs/*.md and README.md is
# exercised by its language tag:
#   ```c        must be an excerpt (the same lines, blanks and indentation
#               aside) of a program under docs/examples/, which `make check`
#               compiles and runs, or of the library's own sources;
#   ```ini      a config: `nabla keys --check` parses and validates it;
#   ```console  a transcript: each "$ command" line is run (in a scratch
#               directory, with this build's nabla first on PATH and the
#               source tree in $NB_SRCDIR) and its output must match the
#               lines that follow; "…" inside a line matches any text (for
#               numbers that legitimately vary), a line "…" alone any lines;
#   ```sh       commands: every `nabla CMD --option` named must exist.
# Other blocks (data file layouts, hex dumps, trees) are illustrations.
set -u
srcdir=$(cd "${NB_SRCDIR:-.}" && pwd)
builddir=$(cd "${NB_BUILDDIR:-.}" && pwd)
bin=$builddir/nabla
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/blocks"

# Split every fenced block into $tmp/blocks/N, and list "N lang file line".
for md in "$srcdir"/README.md "$srcdir"/docs/*.md; do
    awk -v out="$tmp/blocks" -v file="${md#"$srcdir"/}" -v start="$(ls "$tmp/blocks" | wc -l)" '
        /^```/ {
            if (inb) { inb = 0; close(path); next }
            inb = 1; n++; lang = substr($0, 4); sub(/[ \t].*/, "", lang)
            path = out "/" (start + n)
            printf "%d %s %s %d\n", start + n, (lang == "" ? "-" : lang), file, FNR > (out "/index." (start + n))
            printf "" > path
            next
        }
        inb { print > path }' "$md"
done
cat "$tmp"/blocks/index.* 2>/dev/null | sort -n >"$tmp/index"

# Normalised lines of every example program: blanks around stripped,
# empty lines dropped.
norm() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$@"; }
for ex in "$srcdir"/docs/examples/*.c $(find "$srcdir/src" "$srcdir/include" -name "*.[ch]"); do norm "$ex"; echo "@@END@@"; done >"$tmp/examples"

contained() {   # BLOCK: 0 when its normalised lines occur in a row in one example
    norm "$1" >"$tmp/needle"
    awk 'NR == FNR { need[++n] = $0; next }
         { hay[++m] = $0 }
         END {
             if (n == 0) exit 0
             for (i = 1; i + n - 1 <= m; i++) {
                 for (j = 1; j <= n && hay[i + j - 1] == need[j]; j++) ;
                 if (j > n) exit 0
             }
             exit 1
         }' "$tmp/needle" "$tmp/examples"
}

run_console() {   # BLOCK WHERE
    blk=$1 where=$2
    work=$tmp/console; rm -rf "$work"; mkdir -p "$work"
    awk -v dir="$work" '
        /^\$ / { n++; print substr($0, 3) > (dir "/cmd." n); printf "" > (dir "/exp." n); next }
        n > 0 { print > (dir "/exp." n) }' "$blk"
    i=1
    while [ -f "$work/cmd.$i" ]; do
        cmd=$(cat "$work/cmd.$i")
        (cd "$work" && PATH="$builddir:$builddir/tests:$PATH" NB_SRCDIR="$srcdir" sh -c "$cmd") >"$work/got.$i" 2>&1
        if awk 'NR == FNR { want[++n] = $0; next } { have[++m] = $0 }
            function match_line(e, g,   parts, k, pos, p) {
                if (index(e, "…") == 0) return e == g
                k = split(e, parts, "…")
                if (index(g, parts[1]) != 1) return 0
                pos = length(parts[1]) + 1
                for (p = 2; p <= k; p++) {
                    if (parts[p] == "") continue
                    rest = substr(g, pos)
                    q = (p == k) ? (length(rest) - length(parts[p]) + 1) : index(rest, parts[p])
                    if (q < 1 || substr(rest, q, length(parts[p])) != parts[p]) return 0
                    pos += q - 1 + length(parts[p])
                }
                return parts[k] == "" || pos == length(g) + 1
            }
            function go(i, j) {   # expected from i, got from j
                if (i > n) return j > m
                if (want[i] == "…") {
                    for (; j <= m + 1; j++) if (go(i + 1, j)) return 1
                    return 0
                }
                if (j > m || !match_line(want[i], have[j])) return 0
                return go(i + 1, j + 1)
            }
            END {
                while (n > 0 && want[n] == "") n--
                while (m > 0 && have[m] == "") m--
                exit go(1, 1) ? 0 : 1
            }' "$work/exp.$i" "$work/got.$i"; then
            ok "$where: \$ $cmd"
        else
            bad "$where: \$ $cmd: output differs"
            diff "$work/exp.$i" "$work/got.$i" | head -n 20 | sed 's/^/    /'
        fi
        i=$((i + 1))
    done
}

while read -r n lang file line; do
    blk=$tmp/blocks/$n where="$file:$line"
    case "$lang" in
    c)
        if contained "$blk"; then ok "$where: C block is part of a compiled source"
        else bad "$where: C block found in no compiled source (docs/examples/, src/, include/)"; fi ;;
    ini)
        cp "$blk" "$tmp/block.conf"
        if "$bin" keys --check "$tmp/block.conf" >"$tmp/out" 2>&1; then ok "$where: config parses"
        else bad "$where: config rejected: $(cat "$tmp/out")"; fi ;;
    console)
        run_console "$blk" "$where" ;;
    sh)
        # every nabla command line: its subcommand and options exist
        grep -E '^[[:space:]]*(\./_build/)?nabla ' "$blk" | sed 's/#.*//' >"$tmp/cmds" || true
        while read -r _ sub rest; do
            "$bin" help "$sub" >"$tmp/help" 2>/dev/null || { bad "$where: no command 'nabla $sub'"; continue; }
            for o in $(echo "$rest" | grep -o -- '--[a-z][a-z-]*'); do
                grep -q -- "$o" "$tmp/help" || bad "$where: nabla $sub has no option $o"
            done
            ok "$where: nabla $sub ..."
        done <"$tmp/cmds" ;;
    esac
done <"$tmp/index"

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
