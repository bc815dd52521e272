"""Co-firing invariance of a representation (Purushwalkam & Gupta 2020, "Demystifying Contrastive
Self-Supervised Learning", NeurIPS, section 3; the authors' ``measure_invariances.py``).

Images come in *sets*: one object under one kind of transformation (occlusions, rotations,
illumination changes, or different instances of a category). A neuron is invariant to the
transformation if, whenever it fires on one image of a set, it also fires on the others. The score
(:func:`invariance_score`) reads "given a top neuron fires on some image of a set, the percentage of
the set's images on which it also fires"; :func:`analytic_chance` is its value for independent
random features. The set builders turn a uint8 batch (N, C, H, W) into ``(images, set_ids)``, one
set per source image (its copies contiguous, ``set_ids`` = the source index), and
:func:`similarity_vs_strength` measures how an embedding's cosine similarity to the untouched image
falls as a transformation gets stronger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from scipy.stats import binom
from torch import Tensor

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features

__all__ = [
    "InvarianceResult",
    "analytic_chance",
    "firing_percentile",
    "invariance_score",
]

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InvarianceResult:
    """The co-firing score and what it is made of (rows of the matrices follow ``classes``)."""

    score: float  # mean of class_scores, in [0, 100]
    class_scores: dict[int, float]  # per class: mean of the top-K ratios x (100 - firing_percent)
    classes: tuple[int, ...]  # the classes with at least one set used, in increasing order
    local_rates: Array  # L_{c,j}, (classes, D)
    ratios: Array  # r_{c,j} = L_{c,j} / G_j, (classes, D)
    global_rates: Array  # G_j, (D,)
    thresholds: Array  # t_j, (D,)
    negative_thresholds: Array  # t-_j, (D,)
    top_k: int
    firing_percent: float
    min_set_size: int
    sets_used: int
    sets_skipped: int  # sets with fewer than min_set_size images
    classes_skipped: int  # classes all of whose sets were skipped (left out of the average)

    def at_top_k(self, top_k: int) -> float:
        """The overall score with another K (the paper reports K = 10 and 25)."""
        _check_top_k(top_k, self.ratios.shape[1])
        best = -np.sort(-self.ratios, axis=1)[:, :top_k]
        return float(best.mean(axis=1).mean() * (100.0 - self.firing_percent))


def firing_percentile(num_classes: int) -> float:
    """The paper's firing percentile: ``min((1 - 1/#classes) x 100, 95)`` (official code)."""
    return float(_default_quantile(num_classes) * 100)


def _default_quantile(num_classes: int) -> Fraction:
    return min(Fraction(num_classes - 1, num_classes), Fraction(95, 100))


def _quantile(percentile: float, *, low: float = 0.0) -> Fraction:
    """``percentile / 100`` as an exact fraction (so that floor(N x q) has no rounding error)."""
    if not low <= percentile < 100:
        raise ContrastlabError(f"percentile must be in [{low:g}, 100), got {percentile}")
    return Fraction(percentile).limit_denominator(10**6) / 100


def _check_top_k(top_k: int, dim: int) -> None:
    if not 1 <= top_k <= dim:
        raise ContrastlabError(f"top_k must be in [1, {dim}] (the feature dimension), got {top_k}")


def check_ids(ids: Tensor | np.ndarray, n: int, what: str) -> npt.NDArray[np.int64]:
    x = np.asarray(ids.cpu() if isinstance(ids, Tensor) else ids)
    if x.ndim != 1 or x.shape[0] != n:
        raise ContrastlabError(f"{what} must be 1-D with one id per image ({n}), got {x.shape}")
    if x.dtype.kind not in "iu":
        raise ContrastlabError(f"{what} must be integers, got {x.dtype}")
    return x.astype(np.int64)


def invariance_score(
    features: Tensor | np.ndarray,
    set_ids: Tensor | np.ndarray,
    class_ids: Tensor | np.ndarray | None = None,
    *,
    top_k: int = 25,
    percentile: float | None = None,
    min_set_size: int = 3,
) -> InvarianceResult:
    """The co-firing invariance score of features (N, D) of images grouped into sets.

    Steps (as the official ``measure_invariances.py`` computes them, [V-code]); each set's class is
    ``class_ids`` (all its images must agree) or, when ``class_ids`` is None, the set itself. C =
    number of distinct classes, N images.

    1. Thresholds: q = ``percentile``/100, by default min(1 - 1/C, 0.95). With the features of
       neuron j sorted increasingly over all images, x_(0) <= ... <= x_(N-1), and i = floor(N q):
       t_j = x_(i) and the mirrored t-_j = x_(N-1-i). Neuron j fires (+) on an image if x >= t_j,
       and fires (-) if x <= t-_j (both sides hold N - i images when there are no ties).
    2. Global firing rate, positive sign only: G_j = #{images with x >= t_j} / N  (about 1 - q).
    3. Local firing of a set S with |S| >= ``min_set_size`` (3; smaller sets are skipped and
       counted): c_j(S) = max(#{x in S: x >= t_j}, #{x in S: x <= t-_j}), the better sign. S counts
       for neuron j only if c_j(S) > 0; its local rate is c_j(S) / |S|.
    4. Per class c: L_{c,j} = mean of c_j(S)/|S| over the sets of c that count for j (0 if none).
    5. r_{c,j} = L_{c,j} / G_j; class score = mean of the ``top_k`` largest r_{c,j} over j,
       x (100 - 100 q). The classes are averaged *after* the top-K selection, over the classes
       with at least one set used.
    6. The reported score is this mean, in [0, 100] (G_j >= 1 - q and L_{c,j} <= 1); it is about
       100 x the mean local co-firing fraction of the top-K neurons. The paper uses K = 10 and 25;
       :meth:`InvarianceResult.at_top_k` gives another K.

    Features identical within every set score 100 when, for each neuron, the top N(1 - q) images
    are a union of whole sets (e.g. equal set sizes n with n dividing floor(N q)) and every class
    has at least ``top_k`` neurons firing on one of its sets; otherwise ties at the threshold make
    G_j > 1 - q and the score lower.
    """
    x = check_features(features, split="invariance").detach().cpu().double().numpy()
    n, dim = x.shape
    sets = check_ids(set_ids, n, "set_ids")
    classes = sets if class_ids is None else check_ids(class_ids, n, "class_ids")
    _check_top_k(top_k, dim)
    if min_set_size < 1:
        raise ContrastlabError(f"min_set_size must be at least 1, got {min_set_size}")
    num_classes = len(np.unique(classes))
    q = _score_quantile(percentile, num_classes)
    firing_percent = float(q * 100)

    # steps 1-2: per-neuron thresholds over all images, global rate of the positive sign
    index = math.floor(n * q)
    ordered = np.sort(x, axis=0)
    thresholds, negative_thresholds = ordered[index], ordered[n - 1 - index]
    fires = x >= thresholds
    fires_negative = x <= negative_thresholds
    global_rates = fires.mean(axis=0)

    # steps 3-4: per-set counts of both signs, then per-class mean local rates
    set_class, used, rates, counts = _set_rates(fires, fires_negative, sets, classes, min_set_size)
    kept_classes, local_rates = _class_local_rates(set_class[used], rates, counts, dim)

    # steps 5-6: normalise by the global rate, top-K per class, then average the classes
    ratios = local_rates / global_rates
    top = -np.sort(-ratios, axis=1)[:, :top_k]
    class_values = top.mean(axis=1) * (100.0 - firing_percent)
    return InvarianceResult(
        score=float(class_values.mean()),
        class_scores={int(c): float(v) for c, v in zip(kept_classes, class_values, strict=True)},
        classes=tuple(int(c) for c in kept_classes),
        local_rates=local_rates,
        ratios=ratios,
        global_rates=global_rates,
        thresholds=thresholds,
        negative_thresholds=negative_thresholds,
        top_k=top_k,
        firing_percent=firing_percent,
        min_set_size=min_set_size,
        sets_used=int(used.sum()),
        sets_skipped=int((~used).sum()),
        classes_skipped=num_classes - len(kept_classes),
    )


def _score_quantile(percentile: float | None, num_classes: int) -> Fraction:
    """The firing quantile q: ``percentile``/100, or the paper's default for ``num_classes``."""
    if percentile is None:
        if num_classes < 2:
            raise ContrastlabError(
                "the default firing percentile needs at least 2 classes, got 1; "
                "pass percentile (the paper's cap is 95)"
            )
        return _default_quantile(num_classes)
    return _quantile(percentile, low=0.0)


def _set_rates(
    fires: npt.NDArray[np.bool_],
    fires_negative: npt.NDArray[np.bool_],
    sets: npt.NDArray[np.int64],
    classes: npt.NDArray[np.int64],
    min_set_size: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], Array, Array]:
    """Step 3: (class of each set, sets used, local rates c_j(S)/|S|, c_j(S) > 0) per used set."""
    # sets are contiguous after a stable sort by id
    set_values, start, sizes = np.unique(sets, return_index=True, return_counts=True)
    order = np.argsort(sets, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    set_class = classes[start]
    mixed = np.minimum.reduceat(classes[order], bounds) != np.maximum.reduceat(
        classes[order], bounds
    )
    if mixed.any():
        raise ContrastlabError(
            f"set {int(set_values[np.argmax(mixed)])} holds images of several classes; "
            "every image of a set must have the same class id"
        )
    used = sizes >= min_set_size
    if not used.any():
        raise ContrastlabError(
            f"no set has at least {min_set_size} images (largest: {int(sizes.max())})"
        )
    positive = np.add.reduceat(fires[order].astype(np.int64), bounds, axis=0)[used]
    negative = np.add.reduceat(fires_negative[order].astype(np.int64), bounds, axis=0)[used]
    best = np.maximum(positive, negative)
    rates = best / sizes[used, None]
    counts = (best > 0).astype(np.float64)
    return set_class, used, rates, counts


def _class_local_rates(
    used_set_class: npt.NDArray[np.int64], rates: Array, counts: Array, dim: int
) -> tuple[npt.NDArray[np.int64], Array]:
    """Step 4: (classes kept, L_{c,j}), the mean local rate over the sets counting for neuron j."""
    kept_classes, row = np.unique(used_set_class, return_inverse=True)
    rate_sum = np.zeros((len(kept_classes), dim))
    count_sum = np.zeros((len(kept_classes), dim))
    np.add.at(rate_sum, row, rates)
    np.add.at(count_sum, row, counts)
    local_rates = np.divide(rate_sum, count_sum, out=np.zeros_like(rate_sum), where=count_sum > 0)
    return kept_classes, local_rates


def _count_pmf(set_size: int, q: Fraction, num_images: int | None) -> Array:
    """P(c = k), k = 0..n, for c = max(#fires +, #fires -) of a set of n images of random features.

    Each image fires + with probability p = 1 - q, fires - with probability p, or neither, so
    (#+, #-) is multinomial(n; p, p, 1 - 2p); with ``num_images`` N it is exactly the multivariate
    hypergeometric draw of n images from a = N - floor(N q) (+), a (-) and N - 2a others.
    """
    n = set_size
    pmf = np.zeros(n + 1)
    if num_images is None:
        p = float(1 - q)
        for pos in range(n + 1):
            for neg in range(n + 1 - pos):
                ways = math.comb(n, pos) * math.comb(n - pos, neg)
                pmf[max(pos, neg)] += ways * p ** (pos + neg) * (1 - 2 * p) ** (n - pos - neg)
        return pmf
    a = num_images - math.floor(num_images * q)
    total = math.comb(num_images, n)
    for pos in range(n + 1):
        for neg in range(n + 1 - pos):
            ways = (
                math.comb(a, pos) * math.comb(a, neg) * math.comb(num_images - 2 * a, n - pos - neg)
            )
            pmf[max(pos, neg)] += ways / total
    return pmf


def analytic_chance(
    set_size: int,
    *,
    percentile: float = 95.0,
    sets_per_class: int = 1,
    num_neurons: int | None = None,
    top_k: int = 25,
    num_images: int | None = None,
) -> float:
    """Expected :func:`invariance_score` of independent random features (continuous, i.i.d.).

    Derivation, for sets of n = ``set_size`` images, m = ``sets_per_class`` sets per class,
    q = ``percentile``/100 >= 1/2 and p = 1 - q:

    * Every image fires (+) with probability p and (-) with probability p, never both, so
      (#+, #-) in a set is multinomial(n; p, p, 1 - 2p) (hypergeometric for a finite
      ``num_images`` N, where exactly a = N - floor(N q) images fire each sign and G_j = a / N;
      G_j = p when N is None). Let c = max(#+, #-), pi = P(c > 0) = 1 - P(#+ = #- = 0)
      (= 1 - (1 - 2p)^n), and g(k) = P(c = k | c > 0). One sign alone would give the familiar
      E[c/n | c > 0] = p / (1 - (1 - p)^n).
    * For one neuron and class, the number of counting sets is M ~ Binomial(m, pi); given
      M = k >= 1, L = T / (n k) with T the sum of k independent draws of g (a k-fold
      convolution); L = 0 when M = 0. Sets are treated as independent (exact for N = infinity,
      O(n/N) off otherwise).
    * Neurons are independent, so a class's top-K mean is the mean of the K largest of D
      (= ``num_neurons``) i.i.d. copies of L. For L on values v_0 < v_1 < ... with survival
      s_l = P(L >= v_l): E[sum of the top K] = K v_0 + sum_l (v_l - v_(l-1)) E[min(B_l, K)],
      B_l ~ Binomial(D, s_l). With ``num_neurons`` None there is no selection: E[L].
    * Score = 100 x (1 - q) / G_j x that expectation; classes are identically distributed, so
      the class average has the same expectation.
    """
    if set_size < 1:
        raise ContrastlabError(f"set_size must be at least 1, got {set_size}")
    if sets_per_class < 1:
        raise ContrastlabError(f"sets_per_class must be at least 1, got {sets_per_class}")
    q = _quantile(percentile, low=50.0)
    if num_images is not None:
        a = num_images - math.floor(num_images * q)
        if num_images < set_size or 2 * a > num_images:
            raise ContrastlabError(
                f"num_images must be at least set_size ({set_size}) and leave the two firing "
                f"sides disjoint (2 x {a} <= N), got {num_images}"
            )
        global_rate = a / num_images
    else:
        global_rate = float(1 - q)
    pmf = _count_pmf(set_size, q, num_images)
    hit = 1.0 - pmf[0]
    given = np.concatenate([[0.0], pmf[1:] / hit]) if hit > 0 else np.zeros_like(pmf)
    scale = 100.0 * float(1 - q) / global_rate
    m = sets_per_class
    if num_neurons is None:
        mean_rate = float((np.arange(set_size + 1) * given).sum()) / set_size
        return float(scale * (1.0 - (1.0 - hit) ** m) * mean_rate)
    _check_top_k(top_k, num_neurons)
    values, probs = [np.zeros(1)], [np.array([(1.0 - hit) ** m])]
    total = np.ones(1)
    for k in range(1, m + 1):
        total = np.convolve(total, given)  # distribution of T over 0..k n
        values.append(np.arange(len(total)) / (set_size * k))
        probs.append(total * binom.pmf(k, m, hit))
    support, inverse = np.unique(np.concatenate(values), return_inverse=True)
    mass = np.bincount(inverse, weights=np.concatenate(probs))
    # float summation can push a survival probability a hair above 1 (binom.sf then gives NaN)
    survival = np.clip(np.cumsum(mass[::-1])[::-1], 0.0, 1.0)
    steps = np.diff(support)
    capped = binom.sf(np.arange(top_k)[:, None], num_neurons, survival[None, 1:]).sum(axis=0)
    top_sum = top_k * support[0] + float((steps * capped).sum())
    return float(scale * top_sum / top_k)


# ---------------------------------------------------------------------------------------------
# transformation sets: uint8 (N, C, H, W) -> (images (N T, C, H, W), set_ids (N T,))
