#!/bin/sh
# nabla's set-up on a fresh Debian 12 machine: installs what is missing,
# builds out of tree in _build/, then
#   ./build.sh demo   runs the main job: `nabla check` verifies every op,
#                     `nabla demo` shows a network learn, `nabla run
#                     experiments/moons.conf` trains into runs/moons-seed0
#   ./build.sh test   runs the whole test suite, then each fuzz harness for
#                     20 s (in _build-fuzz/), prints each suite's Check
#                     summary and a final "N passed, N failed" line, then
#                     `make distcheck`
#   ./build.sh sanitize  the test suite, shell tests included, under ASan +
#                     UBSan (in _build-san/)
#   ./build.sh fuzz   builds the libFuzzer harnesses of fuzz/ (in
#                     _build-fuzz/) and runs each for $NB_FUZZ_TIME seconds
#                     (default 30); docs/testing.md
set -eu
cd "$(dirname "$0")"
top=$(pwd)
what=${1:-demo}

packages="build-essential autoconf automake libtool pkg-config libgsl-dev check
libopenblas-dev zlib1g-dev gnuplot-nox dataset-fashion-mnist locales
libopenmpi-dev openmpi-bin procps"
# clang and its runtimes: the sanitizer build and the fuzz harnesses (which
# `test` runs too).
case "$what" in test|sanitize|fuzz) packages="$packages clang libclang-rt-14-dev" ;; esac

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

# The libFuzzer harnesses: clang, coverage + ASan + UBSan (configure
# --enable-fuzz), each run for $1 seconds on a copy of its seed corpus; with
# $2, a NAME.log/NAME.trs pair per harness goes there for tests/summary.sh.
fuzz_build_run() {   # SECONDS [RESULTS_DIR] [RUNS]
    configure_in _build-fuzz --enable-fuzz CC=clang
    make -C _build-fuzz -s -j"$jobs" fuzz >_build-fuzz/build.log 2>&1 \
        || { tail -n 30 _build-fuzz/build.log; echo "build.sh: building the fuzz harnesses FAILED"; return 1; }
    rm -rf _build-fuzz/fuzz/work
    NB_FUZZ_RESULTS="${2:-}" NB_FUZZ_RUNS="${3:-}" NB_FUZZ_BIN=_build-fuzz/fuzz NB_FUZZ_TIME="$1" \
        sh fuzz/run.sh
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
    # make check ends with tests/summary.sh over _build/tests: the fuzz
    # results of an earlier run must not count in it.
    rm -f _build/tests/fuzz_*.log _build/tests/fuzz_*.trs
    make -C _build -s -j"$jobs" check >/dev/null 2>&1 || status=1
    # Each harness is one more result for summary.sh (fuzz_NAME.log/.trs).
    echo "build.sh: fuzzing the readers, 100,000 inputs from a fixed seed per harness"
    # a fixed number of inputs from a fixed seed (at most 60 s each): the
    # same run on every machine, so CI cannot fail on a path the developer's
    # run never took; ./build.sh fuzz explores freely
    fuzz_build_run 60 _build/tests "${NB_FUZZ_RUNS:-100000}" || status=1
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
    # Every test runs under both sanitizers, the shell tests of the tool
    # (tests/*.sh, bad inputs included) as much as the Check suites.  A
    # report must not pass for an expected failure: a test that expects
    # exit 1 from a bad checkpoint would take ASan's default exit status 1
    # for it.  So the sanitizers exit 86/87, which no test expects, and
    # write their reports to files, and any such file fails the build.
    san=$top/_build-san/sanitizer-reports
    rm -rf "$san"; mkdir -p "$san"
    ASAN_OPTIONS="detect_leaks=1:exitcode=86:log_path=$san/asan" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87:log_path=$san/ubsan" \
        make -C _build-san -s -j"$jobs" check >/dev/null 2>&1 || status=1
    sh tests/summary.sh _build-san/tests || status=1
    for f in "$san"/*; do
        [ -f "$f" ] || continue
        status=1
        echo "build.sh: sanitizer report $f:"
        head -n 30 "$f" | sed 's/^/    /'
    done
    exit "$status"
    ;;
fuzz)
    fuzz_build_run "${NB_FUZZ_TIME:-30}"
    ;;
*)
    echo "usage: ./build.sh demo|test|sanitize|fuzz" >&2
    exit 2
    ;;
esac
