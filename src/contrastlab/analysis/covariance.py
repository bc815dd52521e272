"""First-layer covariance alignment: do the filters' second moments share the data's eigenvectors?

Maennel et al. 2020, "What Do Neural Networks Learn When Trained With Random Labels?" (NeurIPS
2020, arXiv 2006.10455). Each first-layer filter, flattened over (C, k, k), is treated as a draw
from a distribution with second moment Sigma_w; input patches of the same geometry have
covariance Sigma_x = U diag(lambda) U^T. Sigma_w is *aligned* with Sigma_x when every eigenspace
of Sigma_x lies inside an eigenspace of Sigma_w, that is Sigma_w = U diag(f(lambda)) U^T for
some function f on the eigenvalues (the paper's definition, [V-page]). The paper shows that
training with random labels produces this alignment in the first layer ([V-page] its abstract).

This module measures it (:func:`misalignment`, :func:`eigenvalue_mapping`) and builds it
(:func:`aligned_init_`, the paper's sampling experiment). Patches and filters are flattened
in the same (C, k, k) order, the order of ``torch.nn.functional.unfold``. All matrices are
computed and returned in float64 on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images

__all__ = [
    "aligned_init_",
    "default_init_norm",
    "eigenvalue_mapping",
    "input_patch_covariance",
    "interpolated_mapping",
    "misalignment",
    "weight_covariance",
]

Mapping = Callable[[Tensor], Tensor]

_CHUNK_ELEMENTS = 2**24  # unfolded floats held at once by input_patch_covariance (64 MiB)


def _square_kernel(kernel_size: int | Sequence[int]) -> int:
    """The side k of a square kernel given as ``k`` or ``(k, k)``; raise on anything else."""
    sizes = (kernel_size,) * 2 if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(sizes) != 2 or sizes[0] != sizes[1]:
        raise ContrastlabError(f"kernel_size must be square (k or (k, k)), got {kernel_size}")
    if sizes[0] < 1:
        raise ContrastlabError(f"kernel_size must be at least 1, got {sizes[0]}")
    return int(sizes[0])


def _channel_stats(values: Sequence[float] | None, channels: int, what: str) -> Tensor | None:
    """``mean`` or ``std`` as a (1, C, 1, 1) tensor, checked against the number of channels."""
    if values is None:
        return None
    stats = torch.as_tensor(values, dtype=torch.float64).flatten()
    if stats.numel() != channels:
        raise ContrastlabError(
            f"{what} has {stats.numel()} values but the images have {channels} channels"
        )
    if what == "std" and not bool((stats > 0).all()):
        raise ContrastlabError(f"std must be positive, got {tuple(stats.tolist())}")
    return stats.view(1, -1, 1, 1)


def input_patch_covariance(
    images: Tensor,
    kernel_size: int | Sequence[int],
    *,
    stride: int = 1,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    max_patches: int = 100_000,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    """Mean (D,) and covariance Sigma_x (D, D) of the k x k x C input patches, D = C k^2.

    ``images`` are uint8 (N, C, H, W); they are scaled to [0, 1] and, when ``mean`` and ``std``
    (one value per channel) are given, normalised as the encoder does, ``(x - mean) / std``.
    Patches are taken without padding at every ``stride``-th position, as
    ``torch.nn.functional.unfold`` does, and flattened in (C, k, k) order. The covariance is
    centred with the unbiased normaliser:

        Sigma_x = 1 / (P - 1) * sum_p (x_p - mean)(x_p - mean)^T.

    When there are more than ``max_patches`` patches, a uniform random subset of ``max_patches``
    of them (without replacement, seeded by ``seed``) is used, so memory stays
    O(max_patches x D); images are unfolded a chunk at a time.
    """
    check_images(images, what="images")
    k = _square_kernel(kernel_size)
    if stride < 1:
        raise ContrastlabError(f"stride must be at least 1, got {stride}")
    if max_patches < 2:
        raise ContrastlabError(f"max_patches must be at least 2, got {max_patches}")
    n, channels, height, width = images.shape
    if k > height or k > width:
        raise ContrastlabError(
            f"kernel_size {k} is larger than the images ({height} x {width} pixels)"
        )
    shift = _channel_stats(mean, channels, "mean")
    scale = _channel_stats(std, channels, "std")
    per_image = ((height - k) // stride + 1) * ((width - k) // stride + 1)
    total = n * per_image
    if total < 2:
        raise ContrastlabError(f"a covariance needs at least 2 patches, the images give {total}")
    chosen: np.ndarray | None = None
    if total > max_patches:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(total, size=max_patches, replace=False))
    chunk = max(1, _CHUNK_ELEMENTS // (per_image * channels * k * k))
    pieces: list[Tensor] = []
    for start in range(0, n, chunk):
        x = images[start : start + chunk].to(device="cpu", dtype=torch.float64) / 255.0
        if shift is not None:
            x = x - shift
        if scale is not None:
            x = x / scale
        patches = F.unfold(x, k, stride=stride).transpose(1, 2).reshape(-1, channels * k * k)
        if chosen is not None:
            lo, hi = start * per_image, start * per_image + patches.shape[0]
            picked = chosen[(chosen >= lo) & (chosen < hi)] - lo
            patches = patches[torch.from_numpy(picked)]
        pieces.append(patches)
    data = torch.cat(pieces)
    centre = data.mean(dim=0)
    centred = data - centre
    return centre, centred.T @ centred / (data.shape[0] - 1)


def weight_covariance(conv_weight: Tensor, *, centre: bool = False) -> Tensor:
    """Second moment Sigma_w (D, D) of the first layer's filters, each flattened to D = C k^2.

    ``conv_weight`` is a conv weight (out, C, k, k), flattened in (C, k, k) order like the
    patches of :func:`input_patch_covariance`, or a linear weight (out, D). Each of the ``out``
    filters is one sample (rows, not input dims):

        Sigma_w = 1 / out * sum_j w_j w_j^T = W^T W / out.

    The paper models the filters as zero-mean draws (its sampled initialisation is
    N(0, Sigma_w)), so by default the moment is not centred; ``centre=True``
    subtracts the mean filter and uses the unbiased 1 / (out - 1) instead.
    """
    w = torch.as_tensor(conv_weight).detach()
    if w.ndim == 4:
        if w.shape[2] != w.shape[3]:
            raise ContrastlabError(
                f"conv_weight must have square kernels (out, C, k, k), got {tuple(w.shape)}"
            )
    elif w.ndim != 2:
        raise ContrastlabError(
            f"conv_weight must be (out, C, k, k) or (out, D), got shape {tuple(w.shape)}"
        )
    if not w.dtype.is_floating_point:
        raise ContrastlabError(f"conv_weight must be floating point, got {w.dtype}")
    flat = w.reshape(w.shape[0], -1).to(device="cpu", dtype=torch.float64)
    if flat.numel() == 0:
        raise ContrastlabError(f"conv_weight is empty, shape {tuple(w.shape)}")
    if centre:
        if flat.shape[0] < 2:
            raise ContrastlabError("a centred covariance needs at least 2 filters, got 1")
        flat = flat - flat.mean(dim=0)
        return flat.T @ flat / (flat.shape[0] - 1)
    return flat.T @ flat / flat.shape[0]


def _as_matrix(m: Tensor, name: str) -> Tensor:
    """``m`` as a symmetric float64 CPU matrix, checked to be square, non-empty and finite."""
    m = torch.as_tensor(m).detach().to(device="cpu", dtype=torch.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ContrastlabError(f"{name} must be a square (D, D) matrix, got {tuple(m.shape)}")
    if not bool(torch.isfinite(m).all()):
        raise ContrastlabError(f"{name} holds non-finite values (NaN or inf)")
    return (m + m.T) / 2


def _check_pair(weight_cov: Tensor, data_cov: Tensor) -> tuple[Tensor, Tensor]:
    """Both covariances as symmetric float64 CPU matrices of the same size."""
    sigma_w, sigma_x = _as_matrix(weight_cov, "weight_cov"), _as_matrix(data_cov, "data_cov")
    if sigma_w.shape != sigma_x.shape:
        raise ContrastlabError(
            f"weight_cov is {tuple(sigma_w.shape)} but data_cov is {tuple(sigma_x.shape)}; "
            "use the first layer's kernel size and channels for the patches"
        )
    return sigma_w, sigma_x


def _eigenspaces(eigenvalues: Tensor, rtol: float) -> Tensor:
    """Eigenspace label per ascending eigenvalue; gaps under rtol * max|lambda| join neighbours."""
    gaps = eigenvalues.diff() > rtol * float(eigenvalues.abs().max())
    return torch.cat([torch.zeros(1, dtype=torch.int64), gaps.cumsum(0)])


def misalignment(weight_cov: Tensor, data_cov: Tensor, *, rtol: float = 1e-9) -> float:
    """How far Sigma_w is from being aligned with Sigma_x: 0 when aligned, in [0, 1] otherwise.

    With Sigma_x = U diag(lambda) U^T and C = U^T Sigma_w U (Sigma_w in the data eigenbasis; the
    paper's own score is recalled, not re-read, [MEM]), the score is the off-diagonal energy ratio

        m = ||C - diag(C)||_F / ||C||_F,

    which equals sqrt(sum_i r_i^2) / ||Sigma_w||_F for the per-eigenvector residuals
    r_i^2 = u_i^T Sigma_w^2 u_i - (u_i^T Sigma_w u_i)^2 (the same score per eigenvector): the
    two forms agree. For distinct data eigenvalues m = 0 exactly when every u_i is an
    eigenvector of Sigma_w, i.e. when the matrices commute and Sigma_w = U f(Lambda) U^T; m is
    unchanged by scaling either matrix.

    Data eigenvalues within ``rtol * max|lambda|`` of each other are one eigenspace (U is not
    unique there). Following the paper's definition (each eigenspace of Sigma_x lies
    in one of Sigma_w), diag(C) is then replaced by the nearest such matrix, C's diagonal averaged
    over each eigenspace, so Sigma_w must be a multiple of the identity there (merely commuting is
    not enough); with distinct eigenvalues this is the formula above.

    A finite sample of n filters is never exactly aligned: filters drawn from an aligned
    N(0, Sigma) give E||C - diag(C)||_F^2 = (tr(Sigma)^2 - ||Sigma||_F^2) / n, so compare with
    the initialisation baseline, not with 0.
    """
    sigma_w, sigma_x = _check_pair(weight_cov, data_cov)
    if not bool(sigma_w.any()):
        raise ContrastlabError("weight_cov is all zeros; the misalignment is undefined")
    eigenvalues, u = torch.linalg.eigh(sigma_x)
    c = u.T @ sigma_w @ u
    groups = _eigenspaces(eigenvalues, rtol)
    count = torch.zeros(int(groups.max()) + 1, dtype=torch.float64)
    count.index_add_(0, groups, torch.ones_like(eigenvalues))
    total = torch.zeros_like(count).index_add_(0, groups, c.diagonal())
    fit = torch.diag((total / count)[groups])
    return float(torch.linalg.matrix_norm(c - fit) / torch.linalg.matrix_norm(c))


def eigenvalue_mapping(weight_cov: Tensor, data_cov: Tensor) -> tuple[Tensor, Tensor]:
    """Data eigenvalues lambda_i (ascending) and the filters' variance sigma_i along each u_i.

    sigma_i = u_i^T Sigma_w u_i for the eigenvectors u_i of Sigma_x (the mapping the paper plots).
    When Sigma_w = U f(Lambda) U^T this recovers sigma_i = f(lambda_i); plotted against lambda_i
    (:func:`contrastlab.report.eigen_mapping.eigenvalue_mapping_plot`) it shows the mapping f the
    layer has learnt.
    """
    sigma_w, sigma_x = _check_pair(weight_cov, data_cov)
    eigenvalues, u = torch.linalg.eigh(sigma_x)
    return eigenvalues, torch.einsum("di,de,ei->i", u, sigma_w, u)


def interpolated_mapping(lambdas: Tensor, sigmas: Tensor) -> Mapping:
    """A mapping f for :func:`aligned_init_` fitted to measured (lambda_i, sigma_i) pairs.

    Linear interpolation of sigma in log(lambda), constant beyond the measured range; pairs with
    lambda_i <= 0 are dropped, and negative sigma (rounding) is clipped to 0. This is the "f
    fitted" variant of the paper's sampling experiment: measure :func:`eigenvalue_mapping` on a
    layer trained with random labels, then sample fresh filters with the same mapping.
    """
    lam = torch.as_tensor(lambdas, dtype=torch.float64).flatten()
    sig = torch.as_tensor(sigmas, dtype=torch.float64).flatten()
    if lam.shape != sig.shape:
        raise ContrastlabError(f"got {lam.numel()} eigenvalues but {sig.numel()} variances")
    keep = lam > 0
    if not bool(keep.any()):
        raise ContrastlabError("interpolated_mapping needs at least one positive eigenvalue")
    order = lam[keep].argsort()
    xs = lam[keep][order].log().numpy()
    ys = sig[keep][order].clamp(min=0).numpy()

    def mapping(eigenvalues: Tensor) -> Tensor:
        at = eigenvalues.clamp(min=float(np.exp(xs[0]))).log().numpy()
        return torch.from_numpy(np.interp(at, xs, ys))

    return mapping


def default_init_norm(conv: nn.Conv2d) -> float:
    """Expected Frobenius norm of ``conv.weight`` under PyTorch's default initialisation.

    ``nn.Conv2d.reset_parameters`` draws the weight from U(-b, b) with b = 1 / sqrt(fan_in)
    (kaiming_uniform_ with a = sqrt(5)), variance b^2 / 3, so
    E||W||_F^2 = numel / (3 fan_in) = out_channels / 3.
    """
    fan_in = conv.weight[0].numel()
    return float(np.sqrt(conv.weight.numel() / (3.0 * fan_in)))


def aligned_init_(
    conv: nn.Conv2d,
    data_cov: Tensor,
    mapping: Mapping | None = None,
    *,
    generator: torch.Generator,
    norm: float | None = None,
) -> None:
    """Re-sample ``conv``'s filters from N(0, Sigma_w) aligned with the data, in place.

    The sampling experiment of Maennel et al. 2020 (recalled, [MEM]): with data_cov =
    U diag(lambda) U^T,

        Sigma_w = U diag(f(lambda)) U^T,   w_j = U diag(sqrt(f(lambda))) z_j,  z_j ~ N(0, I),

    for each of the ``out_channels`` filters, reshaped to (C, k, k). ``mapping`` is f, a callable
    on the (float64, clipped at 0) eigenvalues returning non-negative variances; the default
    f(lambda) = lambda (Sigma_w proportional to Sigma_x) is ours: the first-order effect of
    random-label SGD, whose first-layer updates are input combinations with label-independent
    coefficients (the paper's intuition, [MEM]). :func:`interpolated_mapping` fits f to a
    trained layer.

    The sampled weight is then rescaled so that ||W||_F equals ``norm``, by default
    :func:`default_init_norm` (sqrt(out_channels / 3)), the expected norm of PyTorch's default
    initialisation: the paper's norm-matched comparison. The bias is left alone. ``conv`` must
    have ``groups=1`` and a square kernel, and ``data_cov`` be (C k^2, C k^2), e.g. from
    :func:`input_patch_covariance` with the same kernel size.
    """
    if not isinstance(conv, nn.Conv2d):
        raise ContrastlabError(f"aligned_init_ needs an nn.Conv2d, got {type(conv).__name__}")
    out, channels, kh, kw = conv.weight.shape
    if kh != kw:
        raise ContrastlabError(f"the conv kernel must be square, got {kh} x {kw}")
    if conv.groups != 1:
        raise ContrastlabError(f"aligned_init_ needs groups=1, got groups={conv.groups}")
    dim = channels * kh * kw
    sigma_x = _as_matrix(data_cov, "data_cov")
    if sigma_x.shape[0] != dim:
        raise ContrastlabError(
            f"data_cov is {tuple(sigma_x.shape)} but the conv's filters have "
            f"{channels} x {kh} x {kw} = {dim} weights"
        )
    target = default_init_norm(conv) if norm is None else float(norm)
    if not target > 0:
        raise ContrastlabError(f"norm must be positive, got {norm}")
    eigenvalues, u = torch.linalg.eigh(sigma_x)
    eigenvalues = eigenvalues.clamp(min=0)
    variances = eigenvalues if mapping is None else mapping(eigenvalues)
    variances = torch.as_tensor(variances, dtype=torch.float64)
    if variances.shape != eigenvalues.shape:
        raise ContrastlabError(
            f"mapping must return one variance per eigenvalue ({dim}), "
            f"got shape {tuple(variances.shape)}"
        )
    if not bool(torch.isfinite(variances).all()) or bool((variances < 0).any()):
        raise ContrastlabError("mapping must return finite, non-negative variances")
    if not bool((variances > 0).any()):
        raise ContrastlabError("mapping returned all-zero variances; nothing to sample")
    z = torch.randn(out, dim, generator=generator, dtype=torch.float64)
    w = (z * variances.sqrt()) @ u.T
    w = w * (target / float(torch.linalg.matrix_norm(w)))
    with torch.no_grad():
        conv.weight.copy_(w.reshape(conv.weight.shape).to(conv.weight.dtype))
