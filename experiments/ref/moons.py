# Reference: Denny Britz's two-moons network (2015), run with NumPy and
# scikit-learn, for docs/reproducing.md.  /usr/bin/python3 experiments/ref/moons.py
import numpy as np
import sklearn.datasets

np.random.seed(0)
X, y = sklearn.datasets.make_moons(200, noise=0.20)
n = len(X)
eps, lam = 0.01, 0.01

def loss(m):
    W1, b1, W2, b2 = m
    a1 = np.tanh(X.dot(W1) + b1)
    z2 = a1.dot(W2) + b2
    e = np.exp(z2)
    p = e / np.sum(e, axis=1, keepdims=True)
    data_loss = np.sum(-np.log(p[range(n), y]))
    data_loss += lam / 2 * (np.sum(np.square(W1)) + np.sum(np.square(W2)))
    return data_loss / n

np.random.seed(0)
W1 = np.random.randn(2, 3) / np.sqrt(2)
b1 = np.zeros((1, 3))
W2 = np.random.randn(3, 2) / np.sqrt(3)
b2 = np.zeros((1, 2))
for i in range(20000):
    a1 = np.tanh(X.dot(W1) + b1)
    z2 = a1.dot(W2) + b2
    e = np.exp(z2)
    p = e / np.sum(e, axis=1, keepdims=True)
    d3 = p
    d3[range(n), y] -= 1
    dW2 = a1.T.dot(d3)
    db2 = np.sum(d3, axis=0, keepdims=True)
    d2 = d3.dot(W2.T) * (1 - np.power(a1, 2))
    dW1 = X.T.dot(d2)
    db1 = np.sum(d2, axis=0)
    dW2 += lam * W2
    dW1 += lam * W1
    W1 += -eps * dW1
    b1 += -eps * db1
    W2 += -eps * dW2
    b2 += -eps * db2
    if i % 1000 == 0 or i == 19999:
        print("Loss after iteration %i: %f  (%r)" % (i, loss((W1, b1, W2, b2)), loss((W1, b1, W2, b2))))
