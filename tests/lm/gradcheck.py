"""The shared numeric oracle of the lm tests: central finite differences in float64, relative error, and
gradient checks of whole arrays or of sampled parameter coordinates. Every hand-written backward pass is
compared through these (and, where torch is the oracle, through ``rel_err``)."""
import numpy as np


def numeric_grad(f, x: np.ndarray, *, h: float = 1e-6) -> np.ndarray:
    """∂f/∂x by central differences, perturbing ``x`` in place (and restoring it); ``f()`` takes no argument.

    For a function of its argument, perturb a float64 copy: ``numeric_grad(lambda: g(x), x)``."""
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


def rel_err(a, b) -> float:
    """‖a − b‖ / ‖b‖ in float64 (b is the reference)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


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


def check_param_grads(loss_fn, params, rng: np.random.Generator, *, n_coords: int = 6, h: float = 1e-6,
                      tol: float = 1e-6) -> None:
    """Compare each Parameter's accumulated ``grad`` with central differences of ``loss_fn()`` at
    ``n_coords`` random coordinates (a whole finite-difference sweep of a model is too slow)."""
    for p in params:
        for flat in rng.choice(p.data.size, size=min(n_coords, p.data.size), replace=False):
            i = np.unravel_index(flat, p.data.shape)
            old = p.data[i]
            p.data[i] = old + h
            up = loss_fn()
            p.data[i] = old - h
            down = loss_fn()
            p.data[i] = old
            fd = (up - down) / (2 * h)
            assert abs(p.grad[i] - fd) <= tol * max(1.0, abs(fd)), (p, i, p.grad[i], fd)
