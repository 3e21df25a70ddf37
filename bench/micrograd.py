#!/usr/bin/env python3
"""micrograd.py -- a scalar autodiff Value class in the design of Andrej
Karpathy's micrograd (github.com/karpathy/micrograd, engine.py): each Value
holds data, grad, its children and a closure that pushes its grad to them;
backward() sorts the graph topologically (recursive DFS) and runs the
closures in reverse.  Written here from that design (add, mul, tanh are all
the benchmark needs), as the reference of bench_scalar.c:

    acc = sum_{i<M} tanh(x_i * w + b),   M = 1024: 4,095 node-ops

rebuilt every iteration, forward + backward, in node-ops per second.
    micrograd.py [--units M]
"""
import argparse
import math
import sys

import common


class Value:
    __slots__ = ("data", "grad", "_backward", "_prev")

    def __init__(self, data, _children=()):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,))

        def _backward():
            self.grad += (1.0 - t * t) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


def iteration(xs, w, b):
    w.grad = b.grad = 0.0
    acc = None
    for x in xs:
        y = (Value(x) * w + b).tanh()
        acc = y if acc is None else acc + y
    acc.backward()
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--units", type=int, default=1024)
    a = ap.parse_args()
    m = max(1, a.units)
    sys.setrecursionlimit(max(10000, 20 * m))   # build_topo recurses along the acc chain
    xs = [math.sin(i) for i in range(m)]         # the same x_i as bench_scalar.c
    w, b = Value(0.3), Value(0.1)
    n_ops = 4 * m - 1
    iteration(xs, w, b)                          # warm-up
    iters = 1
    while True:                                  # size a sample to about 0.2 s
        t0 = common.now()
        for _ in range(iters):
            iteration(xs, w, b)
        if common.now() - t0 >= 0.2:
            break
        iters *= 2
    samples = []
    for _ in range(5):
        t0 = common.now()
        for _ in range(iters):
            out = iteration(xs, w, b)
        samples.append((common.now() - t0) / iters)
    per = common.median(samples)
    common.result("node_ops", n_ops)
    common.result("node_ops_per_s", n_ops / per)
    common.result("value", out.data)
    common.result("grad_w", w.grad)
    common.result("maxrss_kib", common.maxrss_kib())


if __name__ == "__main__":
    main()
