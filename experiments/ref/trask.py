# Reference: Andrew Trask's 11-line networks (2015), run with NumPy, for
# docs/reproducing.md.  /usr/bin/python3 experiments/ref/trask.py
import numpy as np

def nonlin(x, deriv=False):
    if deriv:
        return x * (1 - x)
    return 1 / (1 + np.exp(-x))

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
y = np.array([[0, 0, 1, 1]]).T
np.random.seed(1)
syn0 = 2 * np.random.random((3, 1)) - 1
for it in range(10000):
    l1 = nonlin(np.dot(X, syn0))
    l1_delta = (y - l1) * nonlin(l1, True)
    syn0 += np.dot(X.T, l1_delta)
print("trask2 outputs", [repr(v) for v in nonlin(np.dot(X, syn0)).ravel()])

y = np.array([[0], [1], [1], [0]])
np.random.seed(1)
syn0 = 2 * np.random.random((3, 4)) - 1
syn1 = 2 * np.random.random((4, 1)) - 1
for j in range(60000):
    l1 = nonlin(np.dot(X, syn0))
    l2 = nonlin(np.dot(l1, syn1))
    l2_error = y - l2
    if j % 10000 == 0:
        print("trask3 step", j, "mae", repr(np.mean(np.abs(l2_error))))
    l2_delta = l2_error * nonlin(l2, deriv=True)
    l1_delta = l2_delta.dot(syn1.T) * nonlin(l1, deriv=True)
    syn1 += l1.T.dot(l2_delta)
    syn0 += X.T.dot(l1_delta)
