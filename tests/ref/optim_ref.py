#!/usr/bin/python3
"""Reference values for tests/test_optim.c, from PyTorch 1.13 (float64).

    /usr/bin/python3 tests/ref/optim_ref.py > /tmp/optim_ref.txt

Problem: one (2, 3) parameter w on the quadratic
    L(w) = 0.5 * sum(a * (w - c)^2),   grad = a * (w - c)
with the gradient assigned explicitly (p.grad = a * (w - c), two
element-wise operations that C reproduces exactly) rather than by autograd,
so that both sides start every step from the same gradient bits.

For every configuration the script prints w after each step with %.17g, in
the C initialiser layout pasted into tests/test_optim.c.  ATEN_CPU_CAPABILITY
is forced to "default" so that ATen does not use AVX2 fused multiply-adds
(torch's add with alpha is a*alpha+b, fused or not depending on the CPU); the
C test still allows a few ulps.  Never run by the test suite.
"""
import os

os.environ["ATEN_CPU_CAPABILITY"] = "default"

import torch  # noqa: E402

torch.set_default_dtype(torch.float64)

W0 = [[2.385, -1.25, 0.5], [3.75, -0.125, 1.5]]
A = [[1.0, 2.5, 0.75], [0.5, 4.0, 1.25]]
C = [[0.5, 1.0, -2.0], [1.5, 0.25, 0.0]]


def run(name, make_opt, steps, make_sched=None):
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(A, dtype=torch.float64)
    c = torch.tensor(C, dtype=torch.float64)
    opt = make_opt([w])
    sched = make_sched(opt) if make_sched else None
    rows = []
    for _ in range(steps):
        with torch.no_grad():
            w.grad = a * (w.detach() - c)
        opt.step()
        if sched is not None:
            sched.step()
        rows.append([x for x in w.detach().flatten().tolist()])
    print("/* %s: %s */" % (name, torch.__version__))
    print("static const double ref_%s[%d][6] = {" % (name, steps))
    for r in rows:
        print("    { " + ", ".join("%.17g" % x for x in r) + " },")
    print("};")


S = torch.optim
run("sgd", lambda p: S.SGD(p, lr=0.1), 3)
run("sgd_wd", lambda p: S.SGD(p, lr=0.1, weight_decay=0.05), 3)
run("momentum", lambda p: S.SGD(p, lr=0.1, momentum=0.9), 3)
run("momentum_wd", lambda p: S.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.05), 3)
run("nesterov", lambda p: S.SGD(p, lr=0.1, momentum=0.9, nesterov=True), 3)
run("nesterov_wd", lambda p: S.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                   weight_decay=0.05), 3)
run("adam", lambda p: S.Adam(p, lr=0.1), 3)
run("adamw", lambda p: S.AdamW(p, lr=0.1, weight_decay=0.1), 3)
# Schedules driving the optimizer: one epoch per step, scheduler.step()
# after each optimizer step (epoch e uses the rate of epoch e).
run("momentum_steplr", lambda p: S.SGD(p, lr=0.1, momentum=0.9), 5,
    lambda o: S.lr_scheduler.StepLR(o, step_size=2, gamma=0.5))
run("adam_explr", lambda p: S.Adam(p, lr=0.1), 5,
    lambda o: S.lr_scheduler.ExponentialLR(o, gamma=0.9))

# Learning rates of the schedulers themselves at epochs 0..7.
for name, make in (("steplr", lambda o: S.lr_scheduler.StepLR(o, step_size=3, gamma=0.1)),
                   ("explr", lambda o: S.lr_scheduler.ExponentialLR(o, gamma=0.9))):
    o = S.SGD([torch.zeros(1, requires_grad=True)], lr=0.2385)
    s = make(o)
    lrs = []
    for _ in range(8):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        s.step()
    print("/* lr of %s, epochs 0..7: %s */" % (name, torch.__version__))
    print("static const double ref_lr_%s[8] = { %s };" % (
        name, ", ".join("%.17g" % x for x in lrs)))
