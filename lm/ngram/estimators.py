"""Estimators: raw counts in, the backoff form out (one log10 probability per seen n-gram, one log10
backoff weight per seen context), which is exactly what an ARPA file stores.

Every estimator here except stupid backoff is normalised, and every one fits the backoff form exactly:
an interpolated estimate p(w | ctx) = u(w | ctx) + gamma(ctx) * p(w | ctx') is stored as
p(w | ctx) for the seen n-grams and gamma(ctx) as the backoff of ctx, because u = 0 for unseen ones.

Conventions shared by all estimators (they are lmplz's):
- `<s>` is never predicted: its unigram probability is 0 (log10 -inf; the ARPA writer prints 0 for it).
- The uniform distribution at the bottom covers the vocabulary minus `<s>` (so it includes `<unk>`).
- A context with no continuation (it ends with `</s>`, or it is `<unk>`) has backoff 1 (log10 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .counts import NgramCounts

SMOOTHINGS = ("mle", "add_k", "absolute", "kn", "mkn", "witten_bell", "stupid_backoff")

# lmplz's --discount_fallback default: used for an order whose closed-form discounts are undefined
# (some t_k = 0, typical of small corpora) or out of range.
DEFAULT_DISCOUNT_FALLBACK = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class Estimate:
    """The backoff form of a model; lists are indexed by order - 1."""

    logp: list  # [k-1] -> (N_k,) float64 log10 p(last word | the others)
    logb: list  # [k-1] -> (N_k,) float64 log10 backoff of the k-gram as a context, for k < order
    discounts: tuple = ()  # per order (D1, D2, D3+) for kn/mkn
    missing_logb: float = 0.0  # log10 backoff of a context absent from the tables (0 but for stupid backoff)
    adjusted: list = field(default_factory=list)  # kn/mkn adjusted counts per order, for inspection


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(x)


def _contexts(counts: NgramCounts, k: int) -> tuple[np.ndarray, int]:
    """Row of each k-gram's context in table k-1 (all 0 for unigrams: one empty context) and the
    number of contexts."""
    table = counts.tables[k - 1]
    if k == 1:
        return np.zeros(table.keys.shape[0], dtype=np.int64), 1
    return table.keys // counts.vocab_size, counts.tables[k - 2].keys.shape[0]


def _predicted_counts(counts: NgramCounts, k: int, bos_id: int) -> np.ndarray:
    """Raw counts, with the unigram `<s>` zeroed: it is only ever a context, never predicted."""
    c = counts.tables[k - 1].counts.astype(np.float64)  # (N_k,)
    if k == 1:
        c[bos_id] = 0.0
    return c


def adjusted_counts(counts: NgramCounts, bos_id: int) -> list:
    """Kneser-Ney adjusted counts a(w1..wk), as lmplz computes them.

    Raw count at the highest order and for n-grams starting with `<s>` (nothing can precede them);
    otherwise the number of distinct words seen to the left, i.e. how many (k+1)-grams have this
    k-gram as their suffix. The unigram `<s>` gets 0.
    """
    order = counts.order
    adjusted = [None] * order
    adjusted[order - 1] = counts.tables[order - 1].counts.astype(np.int64)
    for k in range(order - 1, 0, -1):
        table = counts.tables[k - 1]
        left_types = np.bincount(counts.tables[k].suffix, minlength=table.keys.shape[0])  # (N_k,)
        adjusted[k - 1] = np.where(table.first_word == bos_id, table.counts, left_types).astype(np.int64)
    adjusted[0][bos_id] = 0
    return adjusted


def closed_form_discounts(a: np.ndarray) -> tuple[float, float, float] | None:
    """Chen & Goodman eq. 26 from the counts-of-counts t_k of one order; None when undefined or out
    of range (lmplz raises there unless given --discount_fallback)."""
    t = [int(np.count_nonzero(a == j)) for j in range(5)]  # t[j]: how many n-grams have count j
    if min(t[1], t[2], t[3]) == 0:
        return None
    y = t[1] / (t[1] + 2.0 * t[2])
    d = tuple(j - (j + 1) * y * t[j + 1] / t[j] for j in (1, 2, 3))
    if any(not 0.0 <= dj <= j for j, dj in zip((1, 2, 3), d)):
        return None
    return d


def kneser_ney(
    counts: NgramCounts, *, bos_id: int, modified: bool, discount_fallback=DEFAULT_DISCOUNT_FALLBACK,
    discount: float | None = None,
) -> Estimate:
    """Interpolated (modified) Kneser-Ney exactly as lmplz estimates it.

    With a the adjusted counts and D(a) the discount (D(0) = 0, D(a >= 3) = D3+):
    u(w | ctx) = (a(ctx w) - D(a(ctx w))) / sum_x a(ctx x)
    gamma(ctx) = sum_x D(a(ctx x)) / sum_x a(ctx x)
    p(w | ctx) = u(w | ctx) + gamma(ctx) p(w | ctx minus first word), and p(w | empty) adds
    gamma(empty) / (V - 1), the uniform over the vocabulary without `<s>`.
    Plain "kn" uses one discount per order, D = t1 / (t1 + 2 t2), or the given `discount` at every order.
    """
    order, vocab_size = counts.order, counts.vocab_size
    adjusted = adjusted_counts(counts, bos_id)
    discounts = []
    for a in adjusted:
        if discount is not None:
            d = (discount,) * 3
        elif modified:
            d = closed_form_discounts(a) or tuple(discount_fallback)
        else:
            t1, t2 = int(np.count_nonzero(a == 1)), int(np.count_nonzero(a == 2))
            d = (t1 / (t1 + 2.0 * t2),) * 3 if t1 and t2 else (discount_fallback[0],) * 3
        discounts.append(tuple(float(x) for x in d))

    logp, logb = [], []
    prob_lower = None
    for k in range(1, order + 1):
        a = adjusted[k - 1].astype(np.float64)  # (N_k,)
        ctx, n_ctx = _contexts(counts, k)
        table_d = np.array((0.0,) + discounts[k - 1])  # (4,) D(0), D1, D2, D3+
        d_of_a = table_d[np.minimum(adjusted[k - 1], 3)]  # (N_k,)
        denom = np.bincount(ctx, weights=a, minlength=n_ctx)  # (n_ctx,)
        mass = np.bincount(ctx, weights=d_of_a, minlength=n_ctx)  # (n_ctx,) discounted mass
        safe = np.where(denom > 0, denom, 1.0)  # (n_ctx,)
        u = (a - d_of_a) / safe[ctx]  # (N_k,)
        gamma = np.where(denom > 0, mass / safe, 1.0)  # (n_ctx,) 1 for contexts with no continuation
        if k == 1:
            prob = u + gamma[0] / (vocab_size - 1)  # (V,)
            prob[bos_id] = 0.0
        else:
            prob = u + gamma[ctx] * prob_lower[counts.tables[k - 1].suffix]  # (N_k,)
            logb.append(_log10(gamma))  # backoffs of the (k-1)-grams
        logp.append(_log10(prob))
        prob_lower = prob
    return Estimate(logp=logp, logb=logb, discounts=tuple(discounts), adjusted=adjusted)


def witten_bell(counts: NgramCounts, *, bos_id: int) -> Estimate:
    """Interpolated Witten-Bell on raw counts at every order:
    p(w | ctx) = (c(ctx w) + T(ctx) p(w | ctx')) / (c(ctx) + T(ctx)), T(ctx) = distinct continuations,
    bottoming out in the uniform over the vocabulary without `<s>`."""
    order, vocab_size = counts.order, counts.vocab_size
    logp, logb = [], []
    prob_lower = None
    for k in range(1, order + 1):
        c = _predicted_counts(counts, k, bos_id)  # (N_k,)
        ctx, n_ctx = _contexts(counts, k)
        total = np.bincount(ctx, weights=c, minlength=n_ctx)  # (n_ctx,)
        types = np.bincount(ctx, weights=(c > 0).astype(np.float64), minlength=n_ctx)  # (n_ctx,)
        norm = total + types  # (n_ctx,)
        safe = np.where(norm > 0, norm, 1.0)
        gamma = np.where(norm > 0, types / safe, 1.0)  # (n_ctx,)
        u = c / safe[ctx]  # (N_k,)
        if k == 1:
            prob = u + gamma[0] / (vocab_size - 1)
            prob[bos_id] = 0.0
        else:
            prob = u + gamma[ctx] * prob_lower[counts.tables[k - 1].suffix]
            logb.append(_log10(gamma))  # backoffs of the (k-1)-grams
        logp.append(_log10(prob))
        prob_lower = prob
    return Estimate(logp=logp, logb=logb)


def absolute_discounting(counts: NgramCounts, *, bos_id: int, discount: float | None = None) -> Estimate:
    """Interpolated absolute discounting on raw counts at every order (Ney, Essen & Kneser 1994):
    p(w | ctx) = max(c(ctx w) - D, 0) / c(ctx .) + D N1+(ctx .) / c(ctx .) p(w | ctx'), bottoming out
    in the uniform over the vocabulary without `<s>`. D is `discount` at every order, else estimated per
    order as n1 / (n1 + 2 n2) (n_j: n-grams seen exactly j times; 0.5 when undefined)."""
    order, vocab_size = counts.order, counts.vocab_size
    logp, logb, discounts = [], [], []
    prob_lower = None
    for k in range(1, order + 1):
        c = _predicted_counts(counts, k, bos_id)  # (N_k,)
        if discount is None:
            n1, n2 = int(np.count_nonzero(c == 1)), int(np.count_nonzero(c == 2))
            d = n1 / (n1 + 2.0 * n2) if n1 and n2 else DEFAULT_DISCOUNT_FALLBACK[0]
        else:
            d = float(discount)
        discounts.append((d,) * 3)
        ctx, n_ctx = _contexts(counts, k)
        total = np.bincount(ctx, weights=c, minlength=n_ctx)  # (n_ctx,)
        safe = np.where(total > 0, total, 1.0)
        # each seen word gives min(c, D): D N1+(ctx .) when D <= 1 (NLTK's gamma), still normalised above
        given = np.bincount(ctx, weights=np.minimum(c, d), minlength=n_ctx)  # (n_ctx,)
        gamma = np.where(total > 0, given / safe, 1.0)  # (n_ctx,)
        u = np.maximum(c - d, 0.0) / safe[ctx]  # (N_k,)
        if k == 1:
            prob = u + gamma[0] / (vocab_size - 1)
            prob[bos_id] = 0.0
        else:
            prob = u + gamma[ctx] * prob_lower[counts.tables[k - 1].suffix]
            logb.append(_log10(gamma))
        logp.append(_log10(prob))
        prob_lower = prob
    return Estimate(logp=logp, logb=logb, discounts=tuple(discounts))


def _relative_frequencies(counts: NgramCounts, bos_id: int, backoff) -> Estimate:
    """log10 c(ctx w) / c(ctx .) at every order; backoff(total) gives each order's context log-weights."""
    logp, logb = [], []
    for k in range(1, counts.order + 1):
        c = _predicted_counts(counts, k, bos_id)
        ctx, n_ctx = _contexts(counts, k)
        total = np.bincount(ctx, weights=c, minlength=n_ctx)  # (n_ctx,)
        logp.append(_log10(c / np.where(total > 0, total, 1.0)[ctx]))
        if k > 1:
            logb.append(backoff(total))
    return logp, logb


def mle(counts: NgramCounts, *, bos_id: int) -> Estimate:
    """Relative frequencies at the highest order whose context was seen: p = c(ctx w) / c(ctx .).

    A seen context gives unseen words probability 0 (backoff weight 0); an unseen context falls
    back to the longest seen suffix of it, so every distribution still sums to 1."""
    logp, logb = _relative_frequencies(counts, bos_id, lambda total: np.where(total > 0, -np.inf, 0.0))
    return Estimate(logp=logp, logb=logb)


def add_k(counts: NgramCounts, *, bos_id: int, k: float) -> Estimate:
    """Add-k at the highest order (Laplace when k = 1): p = (c(ctx w) + k) / (c(ctx .) + k V'),
    V' = vocabulary size without `<s>`; an unseen context gives the uniform 1/V'.

    In backoff form: the lower orders are all uniform and the context's backoff is
    k V' / (c(ctx .) + k V'), which yields k / (c(ctx .) + k V') for its unseen words."""
    order, vocab_size = counts.order, counts.vocab_size
    n_pred = vocab_size - 1
    logp, logb = [], []
    for j in range(1, order + 1):
        n_rows = counts.tables[j - 1].keys.shape[0]
        if j < order:
            prob = np.full(n_rows, 1.0 / n_pred)
        else:
            c = _predicted_counts(counts, j, bos_id)
            ctx, n_ctx = _contexts(counts, j)
            total = np.bincount(ctx, weights=c, minlength=n_ctx)  # (n_ctx,)
            prob = (c + k) / (total[ctx] + k * n_pred)  # (N_n,)
            if j > 1:
                logb.append(_log10(k * n_pred / (total + k * n_pred)))
        if j == 1:
            prob[bos_id] = 0.0
        if 1 < j < order:
            logb.append(np.zeros(counts.tables[j - 2].keys.shape[0]))
        logp.append(_log10(prob))
    return Estimate(logp=logp, logb=logb)


def stupid_backoff(counts: NgramCounts, *, bos_id: int, alpha: float) -> Estimate:
    """Brants et al. 2007: S(w | ctx) = c(ctx w) / c(ctx .) if c(ctx w) > 0 else alpha S(w | ctx').
    Scores, not probabilities: they do not sum to 1. alpha applies to every context, seen or not."""
    log_alpha = float(np.log10(alpha))
    logp, logb = _relative_frequencies(counts, bos_id, lambda total: np.full(total.shape[0], log_alpha))
    return Estimate(logp=logp, logb=logb, missing_logb=log_alpha)
