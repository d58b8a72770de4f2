"""The one place lm.rlhf builds an optimizer, so every trainer clips and steps the same way."""
import numpy as np

from .. import optim


class _ClippedStep:
    """AdamW over a module's parameters, with global-norm gradient clipping before every step."""

    def __init__(self, module, *, lr, weight_decay, max_grad_norm):
        self.params = module.parameters()
        self.max_grad_norm = max_grad_norm
        self.optimizer = optim.AdamW(self.params, lr=lr, weight_decay=weight_decay)

    def step(self):
        for p in self.params:
            if not np.all(np.isfinite(p.grad)):
                raise ValueError("non-finite gradient: the loss or the rewards produced NaN/inf")
        if self.max_grad_norm:
            optim.clip_grad_norm(self.params, self.max_grad_norm)
        self.optimizer.step()


def make_optimizer(module, *, lr, weight_decay=0.0, max_grad_norm=1.0):
    return _ClippedStep(module, lr=lr, weight_decay=weight_decay, max_grad_norm=max_grad_norm)
