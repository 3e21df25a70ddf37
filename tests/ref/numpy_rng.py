#!/usr/bin/python3
"""Golden values for tests/test_rng.c, from NumPy's legacy RandomState.

Run with Debian's python3-numpy (1.24.2 was used):
    /usr/bin/python3 tests/ref/numpy_rng.py > /tmp/rng_golden.txt
and paste the arrays into tests/test_rng.c.  Never run by the test suite.
"""
import numpy as np

print("numpy", np.__version__)


def doubles(name, values):
    print("static const double %s[%d] = {" % (name, len(values)))
    for i in range(0, len(values), 3):
        print("    " + ", ".join("%.17g" % float(v) for v in values[i:i + 3]) + ",")
    print("};")


def ints(name, values, ctype="size_t", per_line=12):
    print("static const %s %s[%d] = {" % (ctype, name, len(values)))
    for i in range(0, len(values), per_line):
        print("    " + ", ".join("%d" % int(v) for v in values[i:i + per_line]) + ",")
    print("};")


# The three check values of the brief.
print("seed0 uniform %.17g" % np.random.RandomState(0).random_sample())
print("seed0 gauss   %.17g" % np.random.RandomState(0).standard_normal())
print("seed1 uniform %.17g" % np.random.RandomState(1).random_sample())

# Raw 32-bit words: rng == 0xffffffff takes next_uint32 directly.
rs = np.random.RandomState(12345)
ints("u32_seed12345", rs.randint(0, 2**32, size=8, dtype=np.uint64), "uint32_t", 4)
rs = np.random.RandomState(5489)
w = rs.randint(0, 2**32, size=10000, dtype=np.uint64)
print("seed5489 word1 %d word10000 %d" % (w[0], w[-1]))

# Uniforms across the first twist (312 uniforms use 624 words).
rs = np.random.RandomState(42)
u = rs.random_sample(1000)
doubles("uniform_seed42_first", u[:10])
doubles("uniform_seed42_310_313", u[310:314])
print("uniform_seed42[999] %.17g" % u[999])

# Gaussians: pairs, cache, and the cache surviving uniforms.
rs = np.random.RandomState(7)
doubles("gauss_seed7", rs.standard_normal(12))
rs = np.random.RandomState(7)
mixed = [rs.standard_normal(), rs.random_sample(), rs.standard_normal(),
         rs.standard_normal(), rs.random_sample()]
doubles("mixed_seed7", mixed)
rs = np.random.RandomState(11)
doubles("normal_seed11", [rs.normal(2.5, 0.75) for _ in range(6)])
rs = np.random.RandomState(11)
doubles("uniform_range_seed11", [rs.uniform(-10.0, 10.0) for _ in range(4)])

# random_interval through randint(0, max + 1) (legacy masked rejection).
maxes = [1, 6, 9, 255, 1000, 2**31 + 5, 2**32 - 1, 2**40 + 12345, 2**63 - 1]
rs = np.random.RandomState(5)
got = [rs.randint(0, m + 1, dtype=np.uint64) for m in maxes]
ints("interval_max", maxes, "uint64_t", 3)
ints("interval_seed5", got, "uint64_t", 3)

# Shuffles and permutations.
rs = np.random.RandomState(0)
a = np.arange(10) * 7 + 100
rs.shuffle(a)
ints("shuffle10_seed0", a)
print("shuffle10_seed0 next uniform %.17g" % rs.random_sample())
rs = np.random.RandomState(2024)
a = np.arange(1000)
rs.shuffle(a)
ints("shuffle1000_seed2024", a, per_line=14)
print("shuffle1000 next uniform %.17g" % rs.random_sample())
rs = np.random.RandomState(3)
ints("permutation12_seed3", rs.permutation(12))
