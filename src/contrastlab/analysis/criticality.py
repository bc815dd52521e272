"""Module criticality: how far a module's weights can be rewound to their initial value.

Chatterji, Neyshabur & Sedghi 2020 ("The intriguing role of module criticality in the
generalization of deep networks"), as used by Neyshabur, Sedghi & Zhang 2020 to compare
fine-tuned and from-scratch networks (recalled, [MEM]: to be checked in the papers).
For module i with initial weights theta_i^0 and final weights theta_i^F, and every other module
kept at its final weights,

    theta_i(alpha) = (1 - alpha) theta_i^0 + alpha theta_i^F + u,    u ~ N(0, sigma^2 I),

and the criticality of module i is

    mu_i = min over (alpha, sigma) of  alpha^2 ||theta_i^F - theta_i^0||_F^2 / sigma^2
           subject to  E_u[metric(theta_i(alpha))] within ``threshold`` of the final metric.

A module that can be rewound far (small alpha) under large noise (large sigma) is not critical
(small mu); one whose rewind breaks the network is. The paper's finding: the lower layers of a
fine-tuned network are less critical than its higher layers. Equivalently one plots the metric
over the (alpha, sigma) plane per module (:mod:`contrastlab.report.criticality_heatmap`).

Our search grid (the paper's is [MEM]): alpha in {0, 0.1, ..., 1} and sigma in {0} plus the
positive ``sigmas`` (default 0.001 to 1 in 1-3 steps; the definition of Chatterji et al. bounds
sigma by 1), the expectation over u estimated from ``n_samples`` draws. The constraint is taken
relative to the final network, metric <= final + threshold (Chatterji et al. state it as train
error <= eps, as we recall it; the two agree when the final train error is 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from contrastlab.core.errors import ContrastlabError

__all__ = ["DEFAULT_ALPHAS", "DEFAULT_SIGMAS", "ModuleCriticality", "module_criticality"]

DEFAULT_ALPHAS = tuple(i / 10 for i in range(11))  # ours
DEFAULT_SIGMAS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # ours, absolute, <= 1 as the paper


@dataclass
class ModuleCriticality:
    """The rewind-and-noise search of one module (see :func:`module_criticality`)."""

    name: str
    distance: float
    """||theta_i^F - theta_i^0||_F over all of the module's parameters."""
    alphas: list[float]
    sigmas: list[float]
    """The noise scales, 0 first: the rows of ``values``."""
    values: list[list[float]]
    """values[s][a]: the mean metric at sigmas[s] and alphas[a] (one evaluation when sigma is 0)."""
    final: float
    """The metric of the network with every module at its final weights."""
    rewind_alpha: float
    """The smallest alpha on the grid that meets the constraint without noise (sigma = 0); NaN
    only if even the final weights miss it, which takes a non-deterministic ``evaluate``."""
    criticality: float
    """mu_i: min of alpha^2 distance^2 / sigma^2 over the feasible cells with sigma > 0; inf if
    there are none, 0 if one has alpha = 0 or the module did not move."""
    argmin: tuple[float, float] | None
    """(alpha, sigma) where ``criticality`` is reached, None when no cell with sigma > 0 is."""


def _check_grid(alphas: Sequence[float], sigmas: Sequence[float], n_samples: int) -> None:
    if not alphas or any(not (isinstance(a, (int, float)) and 0 <= a <= 1) for a in alphas):
        raise ContrastlabError(f"alphas must be numbers in [0, 1], got {list(alphas)}")
    if 1 not in alphas:
        raise ContrastlabError(f"alphas must include 1 (the final weights), got {list(alphas)}")
    if not sigmas or any(not (isinstance(s, (int, float)) and 0 < s < math.inf) for s in sigmas):
        raise ContrastlabError(f"sigmas must be positive finite numbers, got {list(sigmas)}")
    if n_samples < 1:
        raise ContrastlabError(f"n_samples must be at least 1, got {n_samples}")


def _parameters(
    model: nn.Module, name: str, initial_state: Mapping[str, Tensor]
) -> list[tuple[nn.Parameter, Tensor]]:
    """The parameters of submodule ``name`` with their initial values, checked against them."""
    try:
        module = model.get_submodule(name)
    except AttributeError:
        known = [n for n, m in model.named_modules() if n and any(True for _ in m.parameters())]
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise ContrastlabError(f"the model has no module {name!r}; modules: {shown}") from None
    pairs = []
    for key, param in module.named_parameters(prefix=name):
        if key not in initial_state:
            raise ContrastlabError(f"initial_state has no entry {key!r} for module {name!r}")
        start = initial_state[key]
        if start.shape != param.shape:
            raise ContrastlabError(
                f"initial_state[{key!r}] has shape {tuple(start.shape)}, "
                f"the model's {tuple(param.shape)}"
            )
        pairs.append((param, start.detach().to(device=param.device, dtype=param.dtype)))
    if not pairs:
        raise ContrastlabError(f"module {name!r} has no parameters to rewind")
    return pairs


def _default_modules(model: nn.Module) -> list[str]:
    """Every submodule that holds parameters of its own (conv, linear, BN affine, ...)."""
    return [
        name
        for name, module in model.named_modules()
        if name and any(True for _ in module.parameters(recurse=False))
    ]


@torch.no_grad()
def _search(
    pairs: list[tuple[nn.Parameter, Tensor]],
    evaluate: Callable[[], float],
    alphas: Sequence[float],
    sigmas: Sequence[float],
    n_samples: int,
    seed: int,
) -> list[list[float]]:
    """The metric over the grid (rows: sigma 0 then ``sigmas``); parameters restored after."""
    finals = [param.detach().clone() for param, _ in pairs]
    generator = torch.Generator().manual_seed(seed)
    noises = [  # unit noise drawn on the CPU, shared by every cell: common random numbers
        [torch.randn(p.shape, generator=generator).to(p) for p, _ in pairs]
        for _ in range(n_samples)
    ]
    values: list[list[float]] = []
    try:
        for sigma in (0.0, *sigmas):
            row = []
            for alpha in alphas:
                draws = noises[:1] if sigma == 0.0 else noises
                total = 0.0
                for noise in draws:
                    for (param, start), final, z in zip(pairs, finals, noise, strict=True):
                        param.copy_(final if alpha == 1 else torch.lerp(start, final, alpha))
                        if sigma > 0.0:
                            param.add_(z, alpha=sigma)
                    total += evaluate()
                row.append(total / len(draws))
            values.append(row)
    finally:
        for (param, _), final in zip(pairs, finals, strict=True):
            param.copy_(final)
    return values


def module_criticality(
    model: nn.Module,
    initial_state: Mapping[str, Tensor],
    evaluate: Callable[[nn.Module], Mapping[str, float]],
    *,
    modules: Sequence[str] | None = None,
    key: str = "error",
    higher_is_better: bool = False,
    threshold: float = 0.05,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    sigmas: Sequence[float] = DEFAULT_SIGMAS,
    n_samples: int = 3,
    seed: int = 0,
) -> list[ModuleCriticality]:
    """Rewind-and-noise search of each module of a trained ``model``; see the module docstring.

    ``model`` holds the final weights theta^F; ``initial_state`` holds theta^0 under the same
    keys (``model.state_dict()`` taken before training). ``modules`` names submodules as
    ``model.named_modules()`` does ("layer1.0", "fc"); a module's parameters, its submodules'
    included, are rewound together. Default: every submodule with parameters of its own. Buffers
    (BatchNorm running statistics) keep their final values.

    For each module, each sigma in {0, *sigmas} and each alpha in ``alphas`` the module is set to
    lerp(theta^0, theta^F, alpha) + sigma z, with z ~ N(0, I) drawn on the CPU from a generator
    seeded with ``seed``; the same ``n_samples`` draws of z serve every cell of the module, so the
    map is smooth in sigma and a call is deterministic for a given seed. ``evaluate(model)[key]``
    (for instance :func:`~contrastlab.analysis.interpolation.classification_evaluator`'s train
    error, as the paper) is averaged over the draws. A cell is feasible when its mean metric is at
    most ``final + threshold`` (at least ``final - threshold`` with ``higher_is_better``). At
    alpha = 1 and sigma = 0 the module holds exactly its final weights, so that cell equals the
    final metric and is always feasible.

    Cost: len(modules) x len(alphas) x (1 + len(sigmas) x n_samples) evaluations. The model gets
    its final weights back afterwards.
    """
    _check_grid(alphas, sigmas, n_samples)
    if not (math.isfinite(threshold) and threshold >= 0):
        raise ContrastlabError(f"threshold must be a number >= 0, got {threshold}")
    names = list(_default_modules(model) if modules is None else modules)
    if not names:
        raise ContrastlabError("module_criticality needs at least one module with parameters")
    grids = {name: _parameters(model, name, initial_state) for name in names}
    grid_alphas, grid_sigmas = [float(a) for a in alphas], [0.0, *(float(s) for s in sigmas)]

    def metric() -> float:
        metrics = evaluate(model)
        if key not in metrics:
            raise ContrastlabError(f"evaluate returned no {key!r}; it has {sorted(metrics)}")
        return float(metrics[key])

    final = metric()
    limit = final - threshold if higher_is_better else final + threshold

    def ok(value: float) -> bool:
        return value >= limit if higher_is_better else value <= limit

    results = []
    for name, pairs in grids.items():
        values = _search(pairs, metric, grid_alphas, grid_sigmas[1:], n_samples, seed)
        distance_sq = sum(float((p.detach() - start).double().pow(2).sum()) for p, start in pairs)
        rewind = min(
            (a for a, v in zip(grid_alphas, values[0], strict=True) if ok(v)), default=math.nan
        )
        best, argmin = math.inf, None
        for sigma, row in zip(grid_sigmas[1:], values[1:], strict=True):
            for alpha, value in zip(grid_alphas, row, strict=True):
                mu = alpha**2 * distance_sq / sigma**2
                if ok(value) and mu < best:
                    best, argmin = mu, (alpha, sigma)
        results.append(
            ModuleCriticality(
                name=name,
                distance=math.sqrt(distance_sq),
                alphas=grid_alphas,
                sigmas=grid_sigmas,
                values=values,
                final=final,
                rewind_alpha=rewind,
                criticality=best,
                argmin=argmin,
            )
        )
    return results
