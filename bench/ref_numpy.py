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


def step(params, x, yhot, lr):
    """One SGD step on the batch; returns the mean loss."""
    W1, b1, W2, b2 = params
    n = x.shape[0]
    z1 = x @ W1 + b1                         # (n, 128)
    h = np.maximum(z1, 0.0)
    z2 = h @ W2 + b2                         # (n, 10)
    m = z2.max(axis=1, keepdims=True)
    e = np.exp(z2 - m)
    s = e.sum(axis=1, keepdims=True)
    lse = m + np.log(s)                      # (n, 1)
    loss = float(np.sum(yhot * (lse - z2)) / n)
    dz2 = (e / s - yhot) / n                 # (n, 10)
    dW2 = h.T @ dz2
    db2 = dz2.sum(axis=0)
    dh = dz2 @ W2.T                          # (n, 128)
    dz1 = dh * (z1 > 0.0)
    dW1 = x.T @ dz1                          # (784, 128)
    db1 = dz1.sum(axis=0)
    W1 -= lr * dW1
    b1 -= lr * db1
    W2 -= lr * dW2
    b2 -= lr * db2
    return loss


def train(epochs):
    t = common.now()
    X, y = common.load_fashion(np)
    load_s = common.now() - t
    rss_loaded, hwm_loaded = common.rss_kib(), common.hwm_kib()
    n = X.shape[0]
    Y = np.eye(common.OUT)[y]                # one-hot (n, 10)
    rng = np.random.RandomState(common.SEED)
    params = common.init_weights(np, rng)
    common.timed_training("ref_numpy", np, rng, n, lambda rows: step(params, X[rows], Y[rows], 0.1),
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
