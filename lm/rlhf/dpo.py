"""DPO (Rafailov et al. 2023): fit the policy to preference pairs directly, no reward model, no sampling."""
import math

import numpy as np

from .. import functional as F
from ..optim import AdamW, clip_grad_norm
from .dpo_loss import dpo_loss
from .policy import check_models, response_logits, response_logprobs, split_response
from .preference import check_pairs


def sequence_logprobs(model, ids, prompt_length, *, batch_size=64):
    """Summed log π(response | prompt) of each row, without gradients: (B, L) -> (B,)."""
    with model.evaluating():
        return np.concatenate([response_logprobs(model, ids[i:i + batch_size], prompt_length).sum(axis=1)
                               for i in range(0, len(ids), batch_size)])


def train_dpo(policy, reference, pairs, *, beta, n_epochs, batch_size, lr, max_grad_norm=1.0, rng, log=None):
    """Fit `policy` (a GPT, updated in place) to `pairs` with the DPO loss; returns per-epoch history."""
    check_models(policy, reference)
    check_pairs(pairs, vocab_size=policy.config.vocab_size)
    p = pairs.prompt_length
    ref_chosen = sequence_logprobs(reference, pairs.chosen, p)  # (N,) constants of the loss
    ref_rejected = sequence_logprobs(reference, pairs.rejected, p)  # (N,)
    optimizer = AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    history = []
    policy.train()
    for epoch in range(n_epochs):
        order = rng.permutation(len(pairs))
        rows = []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            n = len(idx)
            ids = np.concatenate([pairs.chosen[idx], pairs.rejected[idx]])  # (2n, L)
            tokens = split_response(ids, p)  # (2n, N)
            logits = response_logits(policy, ids, p)  # (2n, N, V)
            seq_logp = F.token_log_probs(logits, tokens).sum(axis=1)  # (2n,)
            loss, d_chosen, d_rejected, stats = dpo_loss(seq_logp[:n], seq_logp[n:], ref_chosen[idx],
                                                         ref_rejected[idx], beta=beta)
            # a sequence's log-prob is the sum of its token log-probs: every token gets the sequence's gradient
            dlogp = np.broadcast_to(np.concatenate([d_chosen, d_rejected])[:, None], tokens.shape)  # (2n, N)
            dlogits = F.token_log_probs_backward(dlogp, logits, tokens)  # (2n, N, V)
            full = np.zeros(policy.hidden.shape[:-1] + (logits.shape[-1],), dtype=logits.dtype)  # (2n, L-1, V)
            full[:, p - 1:] = dlogits
            policy.zero_grad()
            policy.backward(full)
            clip_grad_norm(optimizer.params, max_grad_norm or math.inf, error_if_nonfinite=True)
            optimizer.step()
            rows.append({"loss": loss, **stats})
        row = {"epoch": epoch, **{k: float(np.mean([r[k] for r in rows])) for k in rows[0]}}
        history.append(row)
        if log is not None:
            log(row)
    policy.eval()
    return history
