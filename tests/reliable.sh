#!/bin/sh
# `nabla run` refuses what is wrong and never loses or clobbers anything
# (issue #9 items 1-6, #12 item 4): data checked against the model before
# anything is written, run directories never overwritten, a finished run
# left alone by --resume, write errors failing the run, exit statuses as
# documented (nabla(1): 2 for every error; 0 for --resume of a finished run).
set -u
bin=$(cd "${NB_BUILDDIR:-.}" && pwd)/nabla
src=$(cd "${NB_SRCDIR:-.}" && pwd)
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
ok() { checks=$((checks + 1)); echo "ok: $1"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $1"; }
# A listing of every file under a directory with its checksum and mtime.
snap() { (cd "$1" && find . -type f -o -type l | LC_ALL=C sort | while read -r f; do
    printf '%s %s %s\n' "$f" "$(cksum <"$f" 2>/dev/null)" "$(stat -c %Y "$f")"; done); }
# expect STATUS PATTERN LABEL -- command...: exit status and a message on stderr
expect() {
    want=$1 pat=$2 label=$3
    shift 4
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$tmp/err"; then ok "$label"
    else bad "$label (exit $rc, want $want and /$pat/)"; cat "$tmp/err"; fi
}

# ---- data against the model (#9.1, #9.2) ----------------------------------
d=$tmp/data
mkdir "$d"
printf 'a,b,label\n0.5,1.5,0\n1.25,0.75,1\n2.5,0.25,0\n0.125,2.75,1\n' >"$d/train.csv"
printf 'a,label\n0.5,0\n1.25,1\n' >"$d/narrow.csv"
printf 'a,b,c,label\n0.5,1.5,2.5,0\n1.25,0.75,0.5,1\n' >"$d/wide.csv"
printf 'a,b,label\n0.5,1.5,0\n\n1.25,0.75,7\n' >"$d/label7.csv"
cat >"$d/csv.conf" <<'EOF'
[data]
source = csv
path = train.csv
[model]
layers = 2, 1
[loss]
kind = bce_logits
[train]
epochs = 3
[log]
plot = false
EOF
expect 2 "narrow.csv.*1 features per example.*has 2" "a narrower CSV test set is refused (was a heap overflow)" -- \
    "$bin" run "$d/csv.conf" --set data.test_path=narrow.csv --out "$tmp/n1" --quiet
[ ! -e "$tmp/n1" ] && ok "nothing written for it" || bad "a run directory was written"
expect 2 "wide.csv.*3 features per example" "a wider CSV test set is refused (was misaligned)" -- \
    "$bin" run "$d/csv.conf" --set data.test_path=wide.csv --out "$tmp/n2" --quiet
expect 2 "label7.csv:4: label 7 of the training set is outside 0..1.*bce_logits" "label 7 with bce_logits: file and line named" -- \
    "$bin" run "$d/csv.conf" --set data.path=label7.csv --out "$tmp/n3" --quiet
expect 2 "label7.csv:4: label 7 of the test set" "a bad label in the test set is refused too" -- \
    "$bin" run "$d/csv.conf" --set data.test_path=label7.csv --out "$tmp/n4" --quiet
expect 2 "label7.csv:4: label 7 of the training set is outside 0..1.*softmax_ce with 2 outputs" "softmax_ce: labels against the output width" -- \
    "$bin" run "$d/csv.conf" --set data.path=label7.csv --set loss.kind=softmax_ce --set model.layers=2,2 \
    --out "$tmp/n5" --quiet
"$bin" run "$d/csv.conf" --set data.keep_classes=1,0 --out "$tmp/k1" --quiet 2>"$tmp/err" \
    && ok "keep_classes renumbers within range" || { bad "keep_classes"; cat "$tmp/err"; }
[ ! -e "$tmp/n2" ] && [ ! -e "$tmp/n3" ] && [ ! -e "$tmp/n4" ] && ok "nothing written for any of them" \
    || bad "a refused run wrote its directory"

# IDX: 2x2 training images, 1x1 and 1x4 test images; one bad label.
idx_images() { # file n rows cols: n images of bytes 1..
    { printf '\000\000\010\003'; printf "\\000\\000\\000\\$(printf %03o "$2")"
      printf "\\000\\000\\000\\$(printf %03o "$3")"; printf "\\000\\000\\000\\$(printf %03o "$4")"
      i=0; while [ $i -lt $(($2 * $3 * $4)) ]; do printf "\\$(printf %03o $((i % 200 + 1)))"; i=$((i + 1)); done
    } >"$1"
}
idx_labels() { # file labels...
    f=$1; shift
    { printf '\000\000\010\001'; printf "\\000\\000\\000\\$(printf %03o $#)"
      for l in "$@"; do printf "\\$(printf %03o "$l")"; done; } >"$f"
}
idx_images "$d/train-img" 4 2 2
idx_labels "$d/train-lab" 0 1 2 1
idx_images "$d/small-img" 2 1 1
idx_images "$d/flat-img" 2 1 4
idx_labels "$d/test-lab" 0 2
idx_labels "$d/bad-lab" 0 1 5 1
cat >"$d/idx.conf" <<'EOF'
[data]
source = idx
path = train-img
labels_path = train-lab
[model]
layers = 4, 3
[train]
epochs = 2
[log]
plot = false
EOF
"$bin" run "$d/idx.conf" --out "$tmp/i0" --quiet 2>"$tmp/err" && ok "IDX run" || { bad "IDX run"; cat "$tmp/err"; }
expect 2 "small-img.*1x1 but the training images.*2x2" "1x1 test images against 2x2 training images" -- \
    "$bin" run "$d/idx.conf" --set data.test_path=small-img --set data.test_labels_path=test-lab \
    --out "$tmp/i1" --quiet
expect 2 "flat-img.*1x4 but the training images.*2x2" "same size, other shape: refused" -- \
    "$bin" run "$d/idx.conf" --set data.test_path=flat-img --set data.test_labels_path=test-lab \
    --out "$tmp/i2" --quiet
expect 2 "bad-lab: record 2: label 5 of the training set is outside 0..2" "IDX label out of range: record named" -- \
    "$bin" run "$d/idx.conf" --set data.labels_path=bad-lab --out "$tmp/i3" --quiet
expect 2 "data.test_labels_path.*not set" "test images without labels: the key is named" -- \
    "$bin" run "$d/idx.conf" --set data.test_path=small-img --out "$tmp/i4" --quiet
expect 2 "key 'data.test_labels_path': set, but data.test_path" "test labels without test images: refused" -- \
    "$bin" run "$d/idx.conf" --set data.test_labels_path=test-lab --out "$tmp/i5" --quiet
[ ! -e "$tmp/i1" ] && [ ! -e "$tmp/i2" ] && [ ! -e "$tmp/i3" ] && ok "nothing written for IDX refusals" \
    || bad "an IDX refusal wrote its directory"

# ---- messages and exit statuses (#9.6) -------------------------------------
expect 2 "key 'data.path'.*not set: data.source = csv needs a file" "empty data.path names the key" -- \
    "$bin" run "$d/csv.conf" --set data.path= --out "$tmp/m1" --quiet
expect 2 "train.epochs" "a malformed --set exits 2" -- \
    "$bin" run "$d/csv.conf" --set train.epochs --out "$tmp/m2" --quiet
expect 2 "train.epochz" "an unknown --set key exits 2" -- \
    "$bin" run "$d/csv.conf" --set train.epochz=3 --out "$tmp/m3" --quiet
expect 2 "cannot change a run being resumed" "--set with --resume exits 2" -- \
    "$bin" run --resume "$tmp/k1" --set train.epochs=3 --quiet

# Rules between keys are checked once, where the spec is filled, naming the
# origin of the offending value.
expect 2 "^nabla run: --set: key 'loss.kind': softmax_ce needs an output width of at least 2" \
    "softmax_ce with one output: the --set named" -- \
    "$bin" run "$d/csv.conf" --set loss.kind=softmax_ce --out "$tmp/x1" --quiet
{ cat "$d/csv.conf"; printf '[train]\npatience = 3\n'; } >"$d/patience.conf"
expect 2 "patience.conf:13: key 'train.patience': early stopping needs a validation set" \
    "patience without validation: file and line named" -- "$bin" run "$d/patience.conf" --out "$tmp/x2" --quiet
cat >"$d/inline.conf" <<'EOF2'
[data]
source = inline
inputs = 0.5, 1.5, 2.5, 3.5
input_dim = 2
targets = 1, 0, 1
[model]
layers = 2, 1
[loss]
kind = mse
EOF2
printf '[data]\nsource = moons\n[model]\nlayers = 2, 1\n' >"$d/one-output.conf"
expect 2 "key 'loss.kind' (default): softmax_ce needs an output width of at least 2" \
    "keys --check applies the same rules between keys" -- "$bin" keys --check "$d/one-output.conf"
"$bin" keys --check "$d/csv.conf" >/dev/null 2>&1 && ok "keys --check passes a good config" || bad "keys --check"
expect 2 "inline.conf:5: key 'data.targets': 3 values for 2 input rows" "inline targets that do not make rows" -- \
    "$bin" run "$d/inline.conf" --out "$tmp/x3" --quiet
expect 2 "key 'data.targets': 2 values per row but the output layer (model.layers) has 1" \
    "inline targets wider than the output (were misaligned)" -- \
    "$bin" run "$d/inline.conf" --set data.targets=1,0,1,0 --out "$tmp/x4" --quiet

# ---- never clobber (#9.4, #12.4) -------------------------------------------
mine=$tmp/mine
mkdir "$mine"
printf 'my own results\n' >"$mine/results.txt"
printf 'my = config\n' >"$mine/config.conf"
printf 'not a model\n' >"$mine/model.nbm"
before=$(snap "$mine")
expect 2 "not an empty directory or a nabla run" "--out into a folder of the user's files is refused" -- \
    "$bin" run "$d/csv.conf" --out "$mine" --quiet
[ "$(snap "$mine")" = "$before" ] && ok "the user's files are byte-identical" || bad "the user's files changed"
expect 2 "holds no run" "--resume of the user's folder is refused" -- "$bin" run --resume "$mine" --quiet
[ "$(snap "$mine")" = "$before" ] && ok "still byte-identical" || bad "the user's files changed on resume"

fin=$tmp/k1
before=$(snap "$fin")
sleep 1   # an mtime change would show
expect 0 "already finished: nothing to resume, nothing changed" "--resume of a finished run exits 0" -- \
    "$bin" run --resume "$fin"
[ "$(snap "$fin")" = "$before" ] && ok "the finished run is untouched" || bad "the finished run changed"
expect 2 "already holds a finished run" "--out onto a finished run is refused" -- \
    "$bin" run "$d/csv.conf" --out "$fin" --quiet
[ "$(snap "$fin")" = "$before" ] && ok "and untouched" || bad "the finished run changed"

"$bin" run "$d/csv.conf" --set train.epochs=40 --set train.checkpoint_every=5 --stop-after 20 \
    --out "$tmp/u" --quiet 2>/dev/null
expect 2 "unfinished run: continue it with --resume" "--out onto an unfinished run points to --resume" -- \
    "$bin" run "$d/csv.conf" --out "$tmp/u" --quiet
cp -r "$tmp/u" "$tmp/u2"
rm "$tmp/u2/costs.csv"
before=$(snap "$tmp/u2")
expect 2 "incomplete run directory (no costs.csv)" "an incomplete run directory gets a clear message" -- \
    "$bin" run --resume "$tmp/u2" --quiet
[ "$(snap "$tmp/u2")" = "$before" ] && ok "and is left as it was" || bad "the incomplete run changed"
: >"$tmp/u3"
expect 2 "not an empty directory or a nabla run" "--out onto a file is refused" -- \
    "$bin" run "$d/csv.conf" --out "$tmp/u3" --quiet

# ---- write errors (#9.5): a full disk, through /dev/full -------------------
if [ -w /dev/full ] && ! printf x 2>/dev/null >/dev/full; then
    "$bin" run "$d/csv.conf" --set train.epochs=40 --out "$tmp/ref" --quiet 2>/dev/null
    "$bin" run "$d/csv.conf" --set train.epochs=40 --set train.checkpoint_every=5 --stop-after 20 \
        --out "$tmp/full" --quiet 2>/dev/null
    ln -s /dev/full "$tmp/full/results.txt.tmp"
    expect 2 "results.txt: No space left on device" "results.txt on a full disk fails the run" -- \
        "$bin" run --resume "$tmp/full" --quiet
    [ ! -e "$tmp/full/results.txt" ] && ok "no results.txt, not even an empty one" || bad "results.txt written"
    grep -q '"status": "running"' "$tmp/full/meta.json" && ok "the run stays unfinished" || bad "meta.json status"
    ln -s /dev/full "$tmp/full/meta.json.tmp"
    expect 2 "meta.json: No space left on device" "meta.json on a full disk fails the resume" -- \
        "$bin" run --resume "$tmp/full" --quiet
    rm -f "$tmp/full/meta.json.tmp"
    "$bin" run --resume "$tmp/full" --quiet 2>"$tmp/err" && ok "resumes once there is space" \
        || { bad "resume after the disk was freed"; cat "$tmp/err"; }
    cmp -s "$tmp/ref/costs.csv" "$tmp/full/costs.csv" && cmp -s "$tmp/ref/results.txt" "$tmp/full/results.txt" \
        && ok "and ends with the uninterrupted run's files" || bad "files differ after the disk-full resume"
    # plot data (moons: 2-D, so a decision boundary)
    "$bin" run "$src/experiments/moons.conf" --set train.epochs=30 --set train.checkpoint_every=5 \
        --stop-after 10 --out "$tmp/pf" --quiet 2>/dev/null
    ln -s /dev/full "$tmp/pf/boundary.dat.tmp"
    expect 2 "boundary.dat: No space left on device" "plot data on a full disk fails the run" -- \
        "$bin" run --resume "$tmp/pf" --quiet
    [ ! -e "$tmp/pf/boundary.dat" ] && ok "no boundary.dat" || bad "boundary.dat written"
else
    echo "skip: /dev/full is not available: the disk-full cases were not run"
fi

# A disk that fills up during training: a small tmpfs (root only).
small=$tmp/small
mkdir "$small"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=96k tmpfs "$small" 2>/dev/null; then
    trap 'umount "$small" 2>/dev/null; rm -rf "$tmp"' EXIT
    sets="--set train.epochs=4000 --set train.checkpoint_every=200 --set log.every=1 --set log.plot=false"
    # shellcheck disable=SC2086
    expect 2 "No space left on device" "a disk filling up during training fails the run" -- \
        "$bin" run "$src/experiments/moons.conf" $sets --out "$small/run" --quiet
    grep -q '"status": "running"' "$small/run/meta.json" && [ -f "$small/run/checkpoint.nbk" ] \
        && ok "the run stays unfinished, its checkpoint kept" || bad "no checkpoint after the disk filled"
    cp -r "$small/run" "$tmp/moved"
    rm -rf "$small/run"
    # shellcheck disable=SC2086
    expect 2 "costs.csv: write failed: No space left on device" "a costs.csv row the disk refuses fails the run" -- \
        "$bin" run "$src/experiments/moons.conf" $sets --set train.checkpoint_every=100000 --out "$small/run2" --quiet
    umount "$small"
    "$bin" run --resume "$tmp/moved" --quiet 2>"$tmp/err" && ok "resumed where there is space" \
        || { bad "resume after a full disk"; cat "$tmp/err"; }
    # shellcheck disable=SC2086
    "$bin" run "$src/experiments/moons.conf" $sets --out "$tmp/moved-ref" --quiet
    cmp -s "$tmp/moved-ref/costs.csv" "$tmp/moved/costs.csv" && cmp -s "$tmp/moved-ref/results.txt" \
        "$tmp/moved/results.txt" && ok "and ends with the uninterrupted run's files" || bad "files differ"
else
    echo "skip: cannot mount a small tmpfs (not root?): the disk-filling-up case was not run"
fi

# ---- plots run in the run directory, the caller's directory unchanged --------
if command -v gnuplot >/dev/null 2>&1; then
    mkdir "$tmp/cwd"
    (cd "$tmp/cwd" && "$bin" run "$src/experiments/moons.conf" --set train.epochs=5 --out ../pl --quiet) \
        2>"$tmp/err"
    [ -s "$tmp/pl/cost.png" ] && [ -s "$tmp/pl/boundary.png" ] && ok "gnuplot made cost.png and boundary.png" \
        || { bad "no PNG in the run directory"; cat "$tmp/err"; ls "$tmp/pl"; }
    [ -z "$(ls "$tmp/cwd")" ] && ok "nothing landed in the caller's directory" || bad "files in the caller's directory"
else
    echo "skip: gnuplot is not installed"
fi

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
