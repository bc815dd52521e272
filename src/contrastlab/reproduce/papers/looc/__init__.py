"""LOOC (Xiao, Wang, Efros & Darrell 2021): what rotation does to MoCo and to leave-one-out spaces.

Two twins trained with the same backbone, crops, colour jitter, 4-way rotation augmentation,
queue, optimiser and epochs: MoCo v2 with rotation added to its augmentations, and LOOC (one
all-invariant space and one space per atomic augmentation, colour and rotation, on a shared
backbone). Every representation of each (MoCo: backbone, embedding; LOOC: backbone, LooC++,
z_all, z_color, z_rotation) gets the 4-way rotation probe (`evaluate.rotation`, chance 0.25,
also on the random-init twin) and the linear class probe. Small scale: the built-in digits
recipes; paper scale: the same pair derived from the CIFAR-10 MoCo recipe.
"""

from __future__ import annotations

import math
from typing import Any

from contrastlab.report.grouped_bars import grouped_bars
from contrastlab.reproduce.common import TINY_MODEL, datasets_settings
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.looc.claims import CLASS, LOOC_PLUS, ROTATION, SOURCES
from contrastlab.reproduce.reproduction_figures import seed_bars
from contrastlab.reproduce.verdict import Finding, Test, finding, mean_spread, skipped
from contrastlab.reproduce.workspace import set_flags

_DIGITS = {"moco": "moco_resnet18w0.125_digitsrot_100e", "looc": "looc_resnet18w0.125_digits_100e"}
# the paper-scale pair: the CIFAR-10 MoCo recipe with LOOC's rotation, an MLP head (LooC++ reads
# its hidden layer) and the rotation probe; LOOC is the same recipe with the method swapped
_CIFAR = {"moco": "moco_resnet18_cifar10_200e", "looc": "moco_resnet18_cifar10_200e"}
_CIFAR_BOTH: dict[str, Any] = {
    "augment.rotation_p": 0.75,
    "model.head_layers": 2,
    "eval.rotation_probe": True,
}
_CIFAR_LOOC: dict[str, Any] = {
    "method.name": "looc",
    "method.looc.augmentations": ["color", "rotation"],
}
CHANCE = 0.25  # 4 balanced rotations

# label -> (method, representation): the figures' order
REPRESENTATIONS: dict[str, tuple[str, str]] = {
    "MoCo+rot backbone": ("moco", "backbone"),
    "MoCo+rot embedding": ("moco", "embedding"),
    "LooC backbone": ("looc", "backbone"),
    "LooC++": ("looc", "looc++"),
    "LooC z_all": ("looc", "z_all"),
    "LooC z_color": ("looc", "z_color"),
    "LooC z_rotation": ("looc", "z_rotation"),
}

SCALES: dict[str, dict[str, Any]] = {
    "tiny": {"recipes": "digits", "seeds": [0], "settings": TINY_MODEL},
    "small": {"recipes": "digits", "seeds": [0, 1], "settings": {"train.epochs": 100}},
    "paper": {"recipes": "cifar10", "seeds": [0], "settings": {}},
}


def _rotation_key(representation: str, prefix: str = "") -> str:
    return prefix + "rotation_top1" + ("" if representation == "backbone" else f"_{representation}")


def _class_top1(ctx: Context, run: str, representation: str, trained: dict[str, Any]) -> float:
    """Linear class probe top-1 of one representation (the backbone's comes with training)."""
    if representation == "backbone":
        return float(trained["linear_top1"])
    flags = set_flags({"eval.representation": representation, "eval.rotation_probe": False})
    argv = ["eval", ctx.workspace.target(run), "--protocol", "linear", "--no-baseline"]
    name = f"{run}-linear-{representation.replace('+', 'p')}"
    return float(ctx.workspace.command(name, [*argv, "--out", "{out}", *flags])["linear_top1"])


def twin(
    scale: dict[str, Any], method: str, data: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The recipe and ``--set`` settings (without the seed) of ``method`` (moco or looc) at a
    scale; ``data``: the CIFAR-10 ``data.*`` settings at paper scale."""
    settings: dict[str, Any] = {
        "eval.protocols": ["knn", "linear"],
        "eval.random_baseline": True,
        **scale["settings"],
    }
    if scale["recipes"] == "digits":
        return _DIGITS[method], settings
    looc = _CIFAR_LOOC if method == "looc" else {}
    return _CIFAR[method], {**settings, **(data or {}), **_CIFAR_BOTH, **looc}


def _measure(ctx: Context) -> dict[str, Any] | None:
    """Train both twins per seed; per representation, rotation (trained and random init) and
    class probe top-1 over seeds, and the backbones' kNN; None when the data is absent."""
    p = ctx.settings
    data = None
    if p["recipes"] == "cifar10":
        data = datasets_settings(
            ctx, "cifar10-jpg/cifar10-train-jpg.tar.gz", "cifar10-jpg/cifar10-test-jpg.tar.gz"
        )
        if data is None:
            return None
    out: dict[str, Any] = {"rotation": {}, "random": {}, "class": {}, "knn": {}, "n_test": 0}
    for label in REPRESENTATIONS:
        for key in ("rotation", "random", "class"):
            out[key][label] = []
    for method in ("moco", "looc"):
        out["knn"][method] = []
    for seed in p["seeds"]:
        for method in ("moco", "looc"):
            run = f"{method}-s{seed}"
            recipe, settings = twin(dict(p), method, data)
            trained = ctx.workspace.train(run, recipe, {**settings, "train.seed": seed})
            out["knn"][method].append(float(trained["knn_top1"]))
            out["n_test"] = int(trained["n_test"])
            for label, (owner, rep) in REPRESENTATIONS.items():
                if owner != method:
                    continue
                out["rotation"][label].append(float(trained[_rotation_key(rep)]))
                out["random"][label].append(float(trained[_rotation_key(rep, "random_")]))
                out["class"][label].append(_class_top1(ctx, run, rep, trained))
    return out


def _chance_band(n_test: int) -> float:
    """Chance plus 3 binomial standard errors of a 4-way probe scored on the test half's
    4 x (n_test - n_test // 2) rotated images: the most a probe at chance plausibly reaches."""
    n = 4 * (n_test - n_test // 2)
    return CHANCE + 3 * math.sqrt(CHANCE * (1 - CHANCE) / n)


def run(ctx: Context) -> list[Finding]:
    m = _measure(ctx)
    if m is None:
        reason = "CIFAR-10 JPEG not found under --datasets"
        return [skipped(n, c, reason) for n, c in _NAMES]
    mean = {
        key: {k: mean_spread(v)[0] for k, v in m[key].items()} for key in ("rotation", "random")
    }
    band = _chance_band(m["n_test"])
    rot_figs, cls_figs = _figures(ctx, m)
    return [
        _rotation_finding(m, mean, band, rot_figs),
        _class_finding(m, cls_figs),
        _plus_finding(m, mean, rot_figs + cls_figs),
    ]


def _rotation_finding(
    m: dict[str, Any], mean: dict[str, dict[str, float]], band: float, figures: list[str]
) -> Finding:
    """The rotation probe: MoCo+rot's embedding near chance and below its random init, LooC's
    z_rotation above chance, MoCo+rot's embedding and LooC's z_all."""
    rot = m["rotation"]
    emb, zrot, zall = (
        mean["rotation"][k] for k in ("MoCo+rot embedding", "LooC z_rotation", "LooC z_all")
    )
    emb_random = mean["random"]["MoCo+rot embedding"]
    return finding(
        "rotation probe",
        ROTATION,
        f"rotation probe top-1, {_seeds(rot)} (random init): "
        + "; ".join(f"{k} {_pm(rot[k])} ({mean['random'][k]:.3f})" for k in REPRESENTATIONS)
        + f"; chance {CHANCE}, chance + 3 s.e. {band:.3f}. Training moves MoCo+rot's embedding "
        f"{'down' if emb < emb_random else 'up'} from its random-init {emb_random:.3f} to "
        f"{emb:.3f}, {'still above' if emb > band else 'within'} the chance band",
        [
            Test(f"MoCo+rot embedding {emb:.3f} <= chance + 3 s.e. {band:.3f}", emb <= band),
            Test(
                f"MoCo+rot embedding {emb:.3f} < its random init {emb_random:.3f}", emb < emb_random
            ),
            Test(f"LooC z_rotation {zrot:.3f} > chance + 3 s.e. {band:.3f}", zrot > band),
            Test(f"LooC z_rotation {zrot:.3f} > MoCo+rot embedding {emb:.3f}", zrot > emb),
            Test(f"LooC z_rotation {zrot:.3f} > LooC z_all {zall:.3f}", zrot > zall),
        ],
        figures,
    )


def _class_finding(m: dict[str, Any], figures: list[str]) -> Finding:
    """The class probe: LooC's backbone no worse than MoCo+rot's (linear and kNN), within the
    larger seed spread."""
    cls = m["class"]
    rows = [("linear", cls["LooC backbone"], cls["MoCo+rot backbone"])]
    rows.append(("kNN", m["knn"]["looc"], m["knn"]["moco"]))
    tests = []
    for probe, looc_values, moco_values in rows:
        (lm, ls), (mm, ms) = mean_spread(looc_values), mean_spread(moco_values)
        slack = max(ls, ms)
        tests.append(
            Test(
                f"{probe}: LooC backbone {lm:.3f} >= MoCo+rot backbone {mm:.3f} - larger seed "
                f"s.d. {slack:.3f}",
                lm >= mm - slack,
            )
        )
    return finding(
        "class probe",
        CLASS,
        f"backbone top-1, {_seeds(cls)}: linear probe LooC {_pm(cls['LooC backbone'])}, "
        f"MoCo+rot {_pm(cls['MoCo+rot backbone'])}; kNN LooC {_pm(m['knn']['looc'])}, "
        f"MoCo+rot {_pm(m['knn']['moco'])}",
        tests,
        figures,
    )


def _plus_finding(
    m: dict[str, Any], mean: dict[str, dict[str, float]], figures: list[str]
) -> Finding:
    """LooC++ against the best other representation, by class and by rotation probe."""
    rot, cls = m["rotation"], m["class"]
    cmean = {k: mean_spread(v)[0] for k, v in cls.items()}
    others = [k for k in REPRESENTATIONS if k != "LooC++"]
    best_cls = max(others, key=lambda k: cmean[k])
    best_rot = max(others, key=lambda k: mean["rotation"][k])
    return finding(
        "LooC++",
        LOOC_PLUS,
        f"linear class top-1, {_seeds(cls)}: "
        + "; ".join(f"{k} {_pm(cls[k])}" for k in REPRESENTATIONS)
        + f". Rotation top-1: LooC++ {_pm(rot['LooC++'])}, {best_rot} {_pm(rot[best_rot])}. "
        "Our LooC++ concatenates the heads' hidden layers without the backbone feature "
        "(which layer the paper concatenates is recalled, not re-read)",
        [
            Test(
                f"class: LooC++ {cmean['LooC++']:.3f} >= best other ({best_cls}) "
                f"{cmean[best_cls]:.3f}",
                cmean["LooC++"] >= cmean[best_cls],
            ),
            Test(
                f"rotation: LooC++ {mean['rotation']['LooC++']:.3f} >= best other ({best_rot}) "
                f"{mean['rotation'][best_rot]:.3f}",
                mean["rotation"]["LooC++"] >= mean["rotation"][best_rot],
            ),
        ],
        figures,
    )


def _pm(values: list[float]) -> str:
    """``0.912 ± 0.004`` (mean ± s.d. over seeds), or the single value."""
    mean, spread = mean_spread(values)
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ± {spread:.3f}"


def _seeds(series: dict[str, list[float]]) -> str:
    count = len(next(iter(series.values())))
    return "1 seed" if count == 1 else f"mean ± s.d. over {count} seeds"


def _figures(ctx: Context, m: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Rotation probe (trained beside random init, chance dashed) and class probe per
    representation, means with the seeds' s.d."""
    names = [k.replace(" ", "\n", 1) for k in REPRESENTATIONS]
    spread = {
        key: [mean_spread(m[key][k]) for k in REPRESENTATIONS] for key in ("rotation", "random")
    }
    rotation = grouped_bars(
        names,
        {
            "trained": [v[0] for v in spread["rotation"]],
            "random init": [v[0] for v in spread["random"]],
        },
        ctx.workspace.figures / "rotation_probe.png",
        ylabel="4-way rotation probe top-1",
        reference=[CHANCE] * len(names),
        errors={
            "trained": [v[1] for v in spread["rotation"]],
            "random init": [v[1] for v in spread["random"]],
        },
        title="rotation probe on held-out images per representation; bars: s.d. over seeds",
    )
    klass = seed_bars(
        {name: m["class"][k] for name, k in zip(names, REPRESENTATIONS, strict=True)},
        ctx.workspace.figures / "class_probe.png",
        ylabel="linear class probe top-1",
        title="class probe on the held-out split per representation; dots: seeds",
    )
    return [f"figures/{rotation.name}"], [f"figures/{klass.name}"]


_NAMES = (("rotation probe", ROTATION), ("class probe", CLASS), ("LooC++", LOOC_PLUS))

PAPER = Paper(
    name="looc",
    title="What Should Not Be Contrastive in Contrastive Learning",
    citation="Xiao, Wang, Efros & Darrell, ICLR 2021, arXiv 2008.05659",
    sources=SOURCES,
    setup=(
        "MoCo v2 with 4-way rotation added to its augmentations against LOOC (all-invariant, "
        "colour-varying and rotation-varying spaces on one backbone), with the same backbone, "
        "crops, colour jitter, rotation, queue, optimiser and epochs (small: the digits recipes, "
        "ResNet-18 at 1/8 width, 100 epochs, 2 seeds; paper: the CIFAR-10 MoCo recipe with "
        "rotation and an MLP head, and its LOOC twin). Every representation (MoCo: backbone, "
        "head embedding; LOOC: backbone, LooC++ = the heads' hidden layers concatenated, z_all, "
        "z_color, z_rotation) gets a 4-way rotation probe on held-out images (a linear probe "
        "trained on half the images' four turns, tested on the other half; chance 0.25; also on "
        "the random-init twin) and an L-BFGS linear class probe."
    ),
    scales=SCALES,
    run=run,
)
