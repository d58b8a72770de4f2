"""Central finite differences in float64: the oracle for every hand-written backward pass."""
import numpy as np


def numeric_grad(f, x: np.ndarray, *, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, perturbing ``x`` in place (and restoring it)."""
    g = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f()
        flat[i] = old - h
        fm = f()
        flat[i] = old
        g.reshape(-1)[i] = (fp - fm) / (2 * h)
    return g


# Central differences with h = 1e-6 carry a rounding error of about 1e-16·|f|/h ≈ 1e-10·|f| per entry,
# so gradients that are themselves near zero (GELU far in its negative tail) are compared with an
# absolute floor instead of a relative tolerance alone.
ABS_FLOOR = 1e-8


def assert_close(analytic, numeric, *, tol=1e-6, name=""):
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    diff = np.linalg.norm(a - n)
    assert diff <= tol * np.linalg.norm(n) + ABS_FLOOR, (
        f"{name}: error {diff:.2e} > {tol:.0e}·{np.linalg.norm(n):.2e} + {ABS_FLOOR:.0e}")
