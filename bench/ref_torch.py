#!/usr/bin/env python3
"""ref_torch.py -- the PyTorch references of bench/run.sh (float64).

    ref_torch.py train --threads T [--epochs R]
        MLP 784-128-10 (nn.Linear, ReLU, F.cross_entropy, optim.SGD lr 0.1,
        batch 64), same protocol and weights as bench_train.c (common.py)
    ref_torch.py gradcheck [--threads T]
        torch.autograd.gradcheck of the same model's loss with respect to its
        101,770 parameters on the first 4 training images, fast_mode=False
        (once) and fast_mode=True (median of 3)

Threads: torch.set_num_threads(T); run.sh also sets OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS to T.  Exits 77 with a message when PyTorch or NumPy
is missing.
"""
import argparse
import os
import sys

import common

try:
    import numpy as np
except ImportError:
    common.skip("NumPy is not installed (python3-numpy)")
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    common.skip("PyTorch is not installed (python3-torch)")


def model_from(W1, b1, W2, b2):
    m = torch.nn.Sequential(torch.nn.Linear(common.IN, common.HID), torch.nn.ReLU(),
                            torch.nn.Linear(common.HID, common.OUT)).double()
    with torch.no_grad():
        m[0].weight.copy_(torch.from_numpy(W1.T.copy()))   # nn.Linear keeps (out, in)
        m[0].bias.copy_(torch.from_numpy(b1))
        m[2].weight.copy_(torch.from_numpy(W2.T.copy()))
        m[2].bias.copy_(torch.from_numpy(b2))
    return m


def train(epochs, dtype):
    t = common.now()
    Xn, yn = common.load_fashion(np)
    X, y = torch.from_numpy(Xn), torch.from_numpy(yn)
    if dtype == "float32":   # what many users pick: half the memory traffic
        X = X.float()
    load_s = common.now() - t
    rss_loaded, hwm_loaded = common.rss_kib(), common.hwm_kib()
    n = X.shape[0]
    rng = np.random.RandomState(common.SEED)
    model = model_from(*common.init_weights(np, rng))
    if dtype == "float32":
        model = model.float()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(rows):
        opt.zero_grad()
        loss = F.cross_entropy(model(X[rows]), y[rows])
        loss.backward()
        opt.step()
        return loss.item()

    common.timed_training("ref_torch", np, rng, n, step, epochs, (load_s, rss_loaded, hwm_loaded),
                          convert=torch.from_numpy)


def gradcheck():
    Xn, yn = common.load_fashion(np)
    x, y = torch.from_numpy(Xn[:4].copy()), torch.from_numpy(yn[:4].copy())
    rng = np.random.RandomState(common.SEED)
    params = [torch.from_numpy(p).clone().requires_grad_(True) for p in common.init_weights(np, rng)]
    n = sum(p.numel() for p in params)

    def loss(W1, b1, W2, b2):
        h = torch.relu(x @ W1 + b1)
        return F.cross_entropy(h @ W2 + b2, y)

    def run(fast):
        t0 = common.now()
        try:
            ok = torch.autograd.gradcheck(loss, params, fast_mode=fast)
        except Exception as e:   # GradcheckError: a disagreement
            sys.stderr.write("ref_torch: gradcheck (fast_mode=%s) failed: %s\n" % (fast, str(e)[:300]))
            ok = False
        return common.now() - t0, ok

    common.result("n_params", n)
    run(True)                                      # warm-up
    fast = [run(True) for _ in range(3)]
    fast_s = common.median([t for t, _ in fast])
    common.result("fast_s", fast_s)
    common.result("fast_passed", int(all(ok for _, ok in fast)))
    common.result("fast_coords_per_s", n / fast_s)
    full_s, ok = run(False)
    common.result("full_s", full_s)
    common.result("full_passed", int(ok))
    common.result("full_coords_per_s", n / full_s)
    common.result("maxrss_kib", common.maxrss_kib())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["train", "gradcheck"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                    help="train: float32 shows what a user trades for float64")
    a = ap.parse_args()
    torch.set_num_threads(max(1, a.threads))
    common.result("torch_version", torch.__version__)
    common.result("torch_threads", torch.get_num_threads())
    if a.what == "train":
        common.result("dtype", a.dtype)
        common.result("omp_wait_policy", os.environ.get("OMP_WAIT_POLICY", "default"))
        train(max(1, a.epochs), a.dtype)
    else:
        gradcheck()


if __name__ == "__main__":
    main()
