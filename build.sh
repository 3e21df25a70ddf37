#!/bin/sh
# nabla's set-up on a fresh Debian 12 machine: installs what is missing,
# builds out of tree in _build/, then
#   ./build.sh demo   runs the main job: `nabla check` verifies every op,
#                     `nabla demo` shows a network learn, `nabla run
#                     experiments/moons.conf` trains into runs/moons-seed0
#   ./build.sh test   runs the whole test suite, prints each suite's Check
#                     summary and a final "N passed, N failed" line, then
#                     `make distcheck`
#   ./build.sh sanitize  the test suite under ASan + UBSan (in _build-san/)
set -eu
cd "$(dirname "$0")"
top=$(pwd)
what=${1:-demo}

packages="build-essential autoconf automake libtool pkg-config libgsl-dev check
libopenblas-dev zlib1g-dev gnuplot-nox dataset-fashion-mnist locales"
[ "$what" = sanitize ] && packages="$packages clang libclang-rt-14-dev"

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "build.sh: installing:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
fi

# tests/test_locale runs the readers under a decimal-comma locale; it skips
# (with a message) where de_DE.UTF-8 cannot be generated.
if ! locale -a 2>/dev/null | grep -qi '^de_DE\.utf-\?8$'; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; then
        echo "build.sh: generating the de_DE.UTF-8 locale (for tests/test_locale)"
        $sudo sed -i 's/^# *de_DE.UTF-8 UTF-8/de_DE.UTF-8 UTF-8/' /etc/locale.gen &&
            $sudo locale-gen >/dev/null || echo "build.sh: could not generate de_DE.UTF-8; tests/test_locale will skip"
    fi
fi

if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
    autoreconf -fi >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)

configure_in() {   # DIR ARGS...
    dir=$1; shift
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; then
        (cd "$dir" && "$top/configure" -q "$@")
    fi
}

case "$what" in
demo)
    configure_in _build
    make -C _build -s -j"$jobs"
    ./_build/nabla info
    ./_build/nabla check
    ./_build/nabla demo
    rm -rf runs/moons-seed0
    ./_build/nabla run experiments/moons.conf
    echo "build.sh: the run directory: runs/moons-seed0 (cost.png, boundary.png, costs.csv, results.txt)"
    ;;
test)
    configure_in _build
    make -C _build -s -j"$jobs"
    status=0
    make -C _build -s -j"$jobs" check >/dev/null 2>&1 || status=1
    sh tests/summary.sh _build/tests || status=1
    if [ "$status" -eq 0 ]; then
        echo "build.sh: make distcheck"
        make -C _build -s -j"$jobs" distcheck NB_SKIP_SLOW=1 >_build/distcheck.log 2>&1 \
            || { tail -n 40 _build/distcheck.log; echo "build.sh: make distcheck FAILED"; status=1; }
        [ "$status" -eq 0 ] && echo "build.sh: make distcheck passed"
    fi
    exit "$status"
    ;;
sanitize)
    configure_in _build-san --enable-asan --enable-ubsan CC=clang
    make -C _build-san -s -j"$jobs"
    status=0
    ASAN_OPTIONS=detect_leaks=1 make -C _build-san -s -j"$jobs" check >/dev/null 2>&1 || status=1
    sh tests/summary.sh _build-san/tests || status=1
    exit "$status"
    ;;
*)
    echo "usage: ./build.sh demo|test|sanitize" >&2
    exit 2
    ;;
esac
