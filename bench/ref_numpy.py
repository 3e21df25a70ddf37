#!/usr/bin/env python3
"""ref_numpy.py -- the NumPy references of bench/run.sh.

    ref_numpy.py train [--epochs R]   MLP 784-128-10 training, hand-written
                                      forward/backward, same protocol as
                                      bench_train.c (see common.py)
    ref_numpy.py bound [--epochs R]   just the five matrix products of each
                                      step (np.dot into preallocated arrays)

Threads: OpenBLAS's, from OPENBLAS_NUM_THREADS (run.sh sets it).  Exits 77
with a message when NumPy is missing.
"""
import argparse
import sys

import common

try:
    import numpy as np
except ImportError:
    common.skip("NumPy is not installed (python3-numpy)")


def stepper(params, lr):
    """One SGD step on a batch (x, integer labels), as a careful NumPy user
    writes it: every array of the step preallocated once per batch size and
    written in place (np.dot(..., out=), ufuncs with out=), the loss and its
    gradient from label indices rather than a one-hot product.  The first
    version allocated each step's temporaries anew -- among them the
    (784, 128) gradient and lr * gradient, 800 KB each, which glibc maps and
    unmaps, so every step page-faulted them back in -- and ran at half the
    speed of an independent implementation of the same step.  Returns
    step(x, labels) -> mean loss."""
    W1, b1, W2, b2 = params
    dW1, dW2 = np.empty_like(W1), np.empty_like(W2)
    cache = {}

    def bufs(n):
        if n not in cache:
            H, O = common.HID, common.OUT
            cache[n] = (np.empty((n, H)), np.empty((n, H)), np.empty((n, O)), np.empty((n, O)),
                        np.empty((n, H)), np.empty((n, H), dtype=bool), np.arange(n))
        return cache[n]

    def step(x, labels):
        n = x.shape[0]
        z1, h, z2, e, dh, mask, rows = bufs(n)
        np.dot(x, W1, out=z1)                    # (n, 128)
        z1 += b1
        np.maximum(z1, 0.0, out=h)
        np.dot(h, W2, out=z2)                    # (n, 10)
        z2 += b2
        m = z2.max(axis=1, keepdims=True)
        np.subtract(z2, m, out=e)
        np.exp(e, out=e)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.sum(m[:, 0] + np.log(s[:, 0]) - z2[rows, labels]) / n)
        e /= s                                   # softmax, then dz2 = (softmax - onehot) / n
        e[rows, labels] -= 1.0
        e /= n
        np.dot(h.T, e, out=dW2)
        db2 = e.sum(axis=0)
        np.dot(e, W2.T, out=dh)                  # (n, 128)
        np.greater(z1, 0.0, out=mask)
        dh *= mask                               # dz1
        np.dot(x.T, dh, out=dW1)                 # (784, 128)
        db1 = dh.sum(axis=0)
        np.multiply(dW1, lr, out=dW1)
        np.subtract(W1, dW1, out=W1)
        np.subtract(b1, lr * db1, out=b1)
        np.multiply(dW2, lr, out=dW2)
        np.subtract(W2, dW2, out=W2)
        np.subtract(b2, lr * db2, out=b2)
        return loss

    return step


def train(epochs):
    t = common.now()
    X, y = common.load_fashion(np)
    load_s = common.now() - t
    rss_loaded, hwm_loaded = common.rss_kib(), common.hwm_kib()
    n = X.shape[0]
    rng = np.random.RandomState(common.SEED)
    step = stepper(common.init_weights(np, rng), 0.1)
    common.timed_training("ref_numpy", np, rng, n, lambda rows: step(X[rows], y[rows]),
                          epochs, (load_s, rss_loaded, hwm_loaded))


def bound(epochs):
    rng = np.random.RandomState(common.SEED)
    I, H, O, B = common.IN, common.HID, common.OUT, common.BATCH

    def r(*shape):
        return rng.uniform(-0.05, 0.05, shape)

    def bufs(k):
        return dict(x=r(k, I), W1=r(I, H), z1=np.empty((k, H)), h=r(k, H), W2=r(H, O),
                    z2=np.empty((k, O)), G2=r(k, O), dh=np.empty((k, H)), G1=r(k, H),
                    dW2=np.empty((H, O)), dW1=np.empty((I, H)))

    def gemms(b):
        np.dot(b["x"], b["W1"], out=b["z1"])
        np.dot(b["h"], b["W2"], out=b["z2"])
        np.dot(b["G2"], b["W2"].T, out=b["dh"])
        np.dot(b["h"].T, b["G2"], out=b["dW2"])
        np.dot(b["x"].T, b["G1"], out=b["dW1"])

    n = 60000
    full, last = bufs(B), bufs(n % B or B)
    sizes = [full if n - lo >= B else last for lo in range(0, n, B)]
    for _ in range(50):
        gemms(full)
    times = []
    for _ in range(epochs):
        t0 = common.now()
        for b in sizes:
            gemms(b)
        times.append(common.now() - t0)
    med = common.median(times)
    common.result("epoch_s", med)
    common.result("samples_per_s", n / med)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["train", "bound"])
    ap.add_argument("--epochs", type=int, default=3)
    a = ap.parse_args()
    common.result("numpy_version", np.__version__)
    if a.what == "train":
        train(max(1, a.epochs))
    else:
        bound(max(1, a.epochs))


if __name__ == "__main__":
    main()
