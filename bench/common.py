"""common.py -- what the Python references share with the C benchmarks.

The protocol of bench_train.c / bench_util.c, in NumPy: Fashion-MNIST from
$NABLA_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist (IDX, .gz or
plain), pixels / 255 as float64; the initial weights drawn from
numpy.random.RandomState(2385) (W1 = uniform(-1/sqrt(784), 1/sqrt(784),
(784, 128)), then W2 = uniform(-1/sqrt(128), 1/sqrt(128), (128, 10)), biases
zero); 20 warm-up steps on rows 0..1279 in order; then each timed epoch over
perm = arange(60000) shuffled by the same stream, batches of 64 (the last
one 32).  With the same stream and the same arithmetic, the first epoch's
mean loss agrees with nabla's to many digits: the models are the same.

Results are printed as "RESULT key value" lines, like the C programs.
"""
import gzip
import os
import resource
import struct
import sys
import time

SEED = 2385
IN, HID, OUT = 784, 128, 10
BATCH = 64
WARMUP = 20


def result(key, value):
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bool, int)):
        text = "%d" % value
    else:
        text = repr(float(value))
    print("RESULT %s %s" % (key, text),
          flush=True)


def maxrss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def rss_kib():
    """Current resident set, KiB (VmRSS)."""
    return _status_kib("VmRSS:")


def hwm_kib():
    """Peak resident set so far, KiB (VmHWM)."""
    return _status_kib("VmHWM:")


def now():
    return time.perf_counter()


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            opener = gzip.open if p.endswith(".gz") else open
            with opener(p, "rb") as f:
                data = f.read()
            break
    else:
        raise FileNotFoundError(path + "(.gz)")
    ndims = data[3]
    dims = struct.unpack(">" + "I" * ndims, data[4:4 + 4 * ndims])
    return dims, data[4 + 4 * ndims:]


def load_fashion(np):
    """(X (60000, 784) float64 in [0, 1], labels (60000,) int64)."""
    d = os.environ.get("NABLA_FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist"
    dims, raw = _read_idx(os.path.join(d, "train-images-idx3-ubyte"))
    X = np.frombuffer(raw, dtype=np.uint8).reshape(dims[0], -1).astype(np.float64) / 255.0
    _, raw = _read_idx(os.path.join(d, "train-labels-idx1-ubyte"))
    y = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
    return X, y


def init_weights(np, rng):
    s1, s2 = 1.0 / np.sqrt(IN), 1.0 / np.sqrt(HID)
    W1 = rng.uniform(-s1, s1, (IN, HID))
    W2 = rng.uniform(-s2, s2, (HID, OUT))
    return W1, np.zeros(HID), W2, np.zeros(OUT)


def warmup_rows(np, n):
    """Rows of the warm-up steps, one array per step."""
    return [np.arange(s * BATCH, (s + 1) * BATCH) % n for s in range(WARMUP)]


def epoch_batches(np, rng, n):
    perm = np.arange(n)
    rng.shuffle(perm)
    return [perm[lo:lo + BATCH] for lo in range(0, n, BATCH)]


def timed_training(name, np, rng, n, step, epochs, load, convert=lambda rows: rows):
    """The protocol of bench_train: the warm-up steps, then epochs timed
    over batches drawn from rng; prints the results.  step(rows) runs one
    SGD step on the batch and returns its mean loss; convert(rows) turns a
    batch's row indices into what step takes (outside the timing).  load is
    (seconds, rss_kib, hwm_kib) measured after loading the data."""
    for rows in warmup_rows(np, n):
        step(convert(rows))
    times, loss1 = [], None
    for e in range(epochs):
        batches = [convert(b) for b in epoch_batches(np, rng, n)]
        total = 0.0
        t0 = now()
        for rows in batches:
            total += len(rows) * step(rows)
        times.append(now() - t0)
        if e == 0:
            loss1 = total / n
        sys.stderr.write("%s: epoch %d: %.3f s, mean loss %.6f\n" % (name, e + 1, times[-1], total / n))
    med = median(times)
    result("epoch_s", med)
    result("samples_per_s", n / med)
    result("loss_epoch1", loss1)
    result("load_s", load[0])
    result("rss_after_load_kib", load[1])
    result("hwm_after_load_kib", load[2])
    result("rss_end_kib", rss_kib())
    result("maxrss_kib", maxrss_kib())


def skip(msg):
    """Exit 77 (skipped) with a message when a package is missing."""
    print("SKIP %s" % msg, flush=True)
    sys.stderr.write("skipped: %s\n" % msg)
    sys.exit(77)
