#!/usr/bin/python3
"""Golden values for tests/test_data.c: scikit-learn's make_moons and
make_blobs, the CS231n spiral, and facts about Fashion-MNIST.

Run with Debian's python3-numpy 1.24.2 and python3-sklearn 1.2.1:
    /usr/bin/python3 tests/ref/sklearn_data.py > /tmp/data_golden.txt
Never run by the test suite.
"""
import gzip
import os

import numpy as np
import sklearn
from sklearn.datasets import make_blobs, make_moons

print("numpy", np.__version__, "sklearn", sklearn.__version__)


def rows(name, X, idx):
    print("/* %s: (index, x0, x1) */" % name)
    for i in idx:
        print("    { %d, %.17g, %.17g }," % (i, X[i, 0], X[i, 1]))


# make_moons(200, noise=0.20) with the global stream seeded 0, as in the
# many tutorials that do np.random.seed(0) first.
np.random.seed(0)
X, y = make_moons(200, noise=0.20)
rows("moons200", X, [0, 1, 2, 50, 99, 100, 137, 198, 199])
print("moons200 labels", "".join(str(v) for v in y))
print("moons200 column sums %.17g %.17g" % (X[:, 0].sum(), X[:, 1].sum()))
print("moons200 next uniform %.17g" % np.random.random_sample())

# Odd n, noise 0 (still draws): geometry + shuffle only.
X, y = make_moons(7, noise=0.0, random_state=np.random.RandomState(3))
rows("moons7", X, range(7))
print("moons7 labels", "".join(str(v) for v in y))

# The CS231n spiral, verbatim from cs231n.github.io/neural-networks-case-study
# with N = 5, K = 3 and the stream seeded 1.
np.random.seed(1)
N, D, K = 5, 2, 3
X = np.zeros((N * K, D))
y = np.zeros(N * K, dtype='uint8')
for j in range(K):
    ix = range(N * j, N * (j + 1))
    r = np.linspace(0.0, 1, N)
    t = np.linspace(j * 4, (j + 1) * 4, N) + np.random.randn(N) * 0.2
    X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
    y[ix] = j
rows("spiral5x3", X, range(N * K))

# make_blobs: the docstring example (labels published there) and centres.
X, y, c = make_blobs(n_samples=10, centers=3, n_features=2, random_state=0,
                     return_centers=True)
rows("blobs10", X, range(10))
print("blobs10 labels", list(y))
print("blobs10 centers", ", ".join("%.17g" % v for v in c.ravel()))
X, y = make_blobs(n_samples=11, centers=4, n_features=3, cluster_std=0.5,
                  center_box=(-2.0, 3.0), random_state=np.random.RandomState(9))
print("blobs11x3 row 0", ", ".join("%.17g" % v for v in X[0]))
print("blobs11x3 row 10", ", ".join("%.17g" % v for v in X[10]))
print("blobs11x3 labels", list(y))

d = "/usr/share/datasets/fashion-mnist/"
if os.path.isdir(d):
    for s in ["train", "t10k"]:
        im = np.frombuffer(gzip.open(d + s + "-images-idx3-ubyte.gz").read(),
                           dtype=np.uint8)[16:].reshape(-1, 784)
        lb = np.frombuffer(gzip.open(d + s + "-labels-idx1-ubyte.gz").read(),
                           dtype=np.uint8)[8:]
        print(s, im.shape, "labels[:12]", list(lb[:12]),
              "counts", list(np.bincount(lb)),
              "sum(image 0)", int(im[0].astype(np.int64).sum()),
              "image0[14*28+14]", int(im[0, 14 * 28 + 14]),
              "sum(last image)", int(im[-1].astype(np.int64).sum()),
              "total", int(im.astype(np.int64).sum()))
