#!/bin/sh
# Installing like any autotools library: `make install prefix=DIR` into a
# temporary prefix, then the gradcheck example of docs/gradcheck.md built
# with pkg-config alone and run, the installed tool run, and both manual
# pages rendered.  A DESTDIR install must not put DESTDIR into nabla.pc.
set -u
builddir=${NB_BUILDDIR:-.}
srcdir=${NB_SRCDIR:-.}
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: pkg-config is not installed"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if make -C "$builddir" install prefix="$prefix" >"$tmp/install.log" 2>&1; then
    ok "make install prefix=DIR"
else
    bad "make install prefix=DIR"; tail -n 30 "$tmp/install.log"
    echo "$checks checks, $fails failed"; exit 1
fi
pc=$(ls "$prefix"/lib*/pkgconfig/nabla.pc 2>/dev/null | head -n 1)
[ -n "$pc" ] && grep -q "^prefix=$prefix\$" "$pc" && ok "nabla.pc names the prefix of the install" \
    || { bad "nabla.pc prefix"; cat "$pc" 2>/dev/null; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
cflags=$(pkg-config --cflags nabla) && libs=$(pkg-config --libs nabla) && ok "pkg-config --cflags --libs nabla" || bad "pkg-config"
[ -f "$prefix/include/nabla/nabla.h" ] && ok "headers installed" || bad "headers installed"
# shellcheck disable=SC2086
if ${CC:-cc} $cflags "$srcdir/docs/examples/gradcheck_example.c" $libs -o "$tmp/example" >"$tmp/cc.log" 2>&1; then
    ok "the docs' gradcheck example builds with pkg-config alone"
    libdir=$(pkg-config --variable=libdir nabla)
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/example" >"$tmp/example.out" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && grep -q 'all expectations hold' "$tmp/example.out" && ok "and runs" || { bad "example run ($rc)"; tail "$tmp/example.out"; }
else
    bad "example build"; cat "$tmp/cc.log"
fi
# (the tool's run path is configure's prefix; a prefix given to make install
# alone is found through LD_LIBRARY_PATH, as the README says)
LD_LIBRARY_PATH="$(pkg-config --variable=libdir nabla)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$prefix/bin/nabla" --version >"$tmp/version" 2>&1 && grep -q '^nabla ' "$tmp/version" \
    && ok "installed nabla --version" || { bad "installed nabla"; cat "$tmp/version"; }
for page in man1/nabla.1 man5/nabla-config.5; do
    [ -s "$prefix/share/man/$page" ] && ok "installed $page" || bad "installed $page"
done
if command -v man >/dev/null 2>&1; then
    MANPAGER=cat MANWIDTH=80 man -M "$prefix/share/man" nabla 2>/dev/null | grep -q 'resume' \
        && ok "man nabla" || bad "man nabla"
    MANPAGER=cat MANWIDTH=80 man -M "$prefix/share/man" 5 nabla-config 2>/dev/null | grep -q 'optimizer.lr' \
        && ok "man nabla-config" || bad "man nabla-config"
else
    echo "skip: man is not installed (package man-db); pages checked as files only"
fi
make -C "$builddir" uninstall prefix="$prefix" >/dev/null 2>&1 && [ ! -e "$pc" ] \
    && ok "make uninstall removes nabla.pc" || bad "uninstall"

# DESTDIR: files under DESTDIR, paths inside nabla.pc without it
if make -C "$builddir" install prefix=/opt/nabla DESTDIR="$tmp/stage" >"$tmp/stage.log" 2>&1; then
    spc=$(ls "$tmp"/stage/opt/nabla/lib*/pkgconfig/nabla.pc 2>/dev/null | head -n 1)
    [ -n "$spc" ] && grep -q '^prefix=/opt/nabla$' "$spc" && ! grep -q "$tmp" "$spc" \
        && ok "DESTDIR install: nabla.pc says prefix=/opt/nabla" || { bad "DESTDIR nabla.pc"; cat "$spc" 2>/dev/null; }
else
    bad "make install DESTDIR"; tail -n 20 "$tmp/stage.log"
fi

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
