"""The steps of the Demystifying reproduction (`contrastlab.reproduce.papers.demystifying`): the
settings of its runs, the instance sets, and the measurements each finding reads (every one a
`contrastlab train` / `analyze` step of the workspace)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contrastlab.api.data import prepare_data
from contrastlab.config import load_recipe
from contrastlab.data.class_sets import class_sets, save_npz
from contrastlab.reproduce.common import QUICK_EVAL, datasets_settings
from contrastlab.reproduce.paper import Context

__all__ = [
    "DIGITS",
    "TRANSFORMS",
    "cifar",
    "contrast_settings",
    "invariances",
    "objects",
    "scene_settings",
]

# transform label -> its sets: a built-in `analyze invariance` transform, or ``instance``
# (sets of one class's held-out images, `data.class_sets`, read from an .npz with groups)
TRANSFORMS: dict[str, str] = {
    "occlusion": "occlusion",
    "viewpoint (quarter turns)": "rotation",
    "illumination": "illumination",
    "instance": "instance",
}
PER_SET = 9  # images per instance set: as many as an occlusion or illumination set
_DIGITS = {"simclr": "simclr_resnet18w0.125_shapes_16e", "ce": "ce_resnet18w0.125_shapes_16e"}
_CIFAR = {"simclr": "simclr_resnet18_cifar10_1000e", "ce": "ce_resnet50_cifar10_500e"}
# the shapes CPU recipes pointed at the built-in digits: grey 16 px (the scenes set 32 px),
# crops of 50-100% (a digit survives them), brightness/contrast jitter, no flips
DIGITS: dict[str, Any] = {
    "data.source": "digits",
    "data.channels": 1,
    "data.mean": [0.5],
    "data.std": [0.5],
    "data.image_size": 16,
    "augment.crop_scale": [0.5, 1.0],
    "augment.flip_p": 0.0,
    "augment.jitter_strength": 0.5,
    "augment.jitter_p": 0.8,
    "augment.gray_p": 0.0,
}
_SCENES = {"k": 2, "size_ratio": 1.5, "objects": "source"}  # object 0 is the dominant one


def contrast_settings(
    scale: dict[str, Any], model: str, data: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """The recipe and settings (without the seed) of ``model`` (simclr or ce) at a scale;
    ``data``: the CIFAR-10 ``data.*`` settings at paper scale."""
    if scale["recipes"] == "digits":
        return _DIGITS[model], {**QUICK_EVAL, **DIGITS, **scale["settings"]}
    return _CIFAR[model], {**QUICK_EVAL, **scale["settings"], **(data or {})}


def scene_settings(
    scale: dict[str, Any], crops: bool, data: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """SimCLR on 2-object scenes (``crops`` False) or on their object-centric crops: the recipe
    and settings. There are k crops per scene, so the crops run has 1/k of the epochs: both see
    as many images for as many steps."""
    base = DIGITS if scale["recipes"] == "digits" else (data or {})
    settings: dict[str, Any] = {
        "eval.protocols": ["knn"],
        "eval.random_baseline": False,
        **base,
        **scale["scenes"],
    }
    options = {**_SCENES, **settings.pop("data.probe_options", {}), "crops": crops}
    settings.update({"data.probe": "multiobject", "data.probe_options": options})
    if crops:
        settings["train.epochs"] = max(1, settings["train.epochs"] // options["k"])
    recipe = _DIGITS["simclr"] if scale["recipes"] == "digits" else _CIFAR["simclr"]
    return recipe, settings


def cifar(ctx: Context) -> dict[str, Any] | None:
    return datasets_settings(
        ctx, "cifar10-jpg/cifar10-train-jpg.tar.gz", "cifar10-jpg/cifar10-test-jpg.tar.gz"
    )


def _instance_npz(ctx: Context, recipe: str, settings: dict[str, Any]) -> Path:
    """Instance sets of the held-out split of a recipe's data, as an .npz (written once)."""
    path = ctx.workspace.root / "data" / "instance_sets.npz"
    data_settings = {key: value for key, value in settings.items() if key.startswith("data.")}
    command = (  # the same for every recipe on the same data: the sets are built once
        f"contrastlab.data.class_sets.class_sets(the held-out labels of {data_settings}, "
        f"per_set={PER_SET}, seed=0) -> {path.name}"
    )

    def build() -> dict[str, Any]:
        data = prepare_data(load_recipe(recipe, list(settings.items())).data)
        assert data.test is not None
        test = data.test
        sets = class_sets(test.labels, PER_SET, seed=0)
        save_npz(path, test.images, test.labels, sets, test.classes)
        return {"path": str(path), "images": len(sets.index), "per_set": PER_SET}

    ctx.workspace.cached("instance-sets", build, command=command)
    if not path.is_file():  # the step's record survived its file: write it again
        build()
    return path


def _npz_source(path: Path) -> dict[str, Any]:
    """Settings that point an analysis at a rendered .npz (all of it train and held out)."""
    return {
        "data.source": str(path),
        "data.eval_source": str(path),
        "data.options": {},
        "data.probe": None,
    }


def invariances(ctx: Context, data: dict[str, Any] | None) -> dict[str, Any]:
    """Per model and transform, the invariance score over seeds (trained, random init), and
    each transform's chance level."""
    p = ctx.settings
    ws = ctx.workspace
    images = ["--images", str(p["images"])]
    scores: dict[str, dict[str, list[float]]] = {}
    chance: dict[str, float] = {}
    for model in ("simclr", "ce"):
        recipe, settings = contrast_settings(dict(p), model, data)
        for label in (model, f"{model} random"):
            scores[label] = {t: [] for t in TRANSFORMS}
        for seed in p["seeds"]:
            run = f"{model}-s{seed}"
            ws.train(run, recipe, {**settings, "train.seed": seed})
            builtin = ws.analyze(
                f"{run}-invariance", "invariance", run,
                ["--transforms", "occlusion,rotation,illumination", *images],
            )  # fmt: skip
            results = {kind: (builtin, kind) for kind in ("occlusion", "rotation", "illumination")}
            found = ws.analyze(
                f"{run}-instance", "invariance", run, ["--transforms", "instance", *images],
                _npz_source(_instance_npz(ctx, recipe, settings)),
            )  # fmt: skip
            results["instance"] = (found, "instance")
            for label, kind in TRANSFORMS.items():
                found, key = results[kind]
                scores[model][label].append(float(found["scores"]["trained"][key]))
                scores[f"{model} random"][label].append(float(found["scores"]["random init"][key]))
                chance[label] = float(found["chance"][key])
    return {"scores": scores, "chance": chance}


def objects(ctx: Context, data: dict[str, Any] | None) -> dict[str, Any]:
    """Per training data (scenes, crops), each object's class read out of held-out scenes."""
    p = ctx.settings
    ws = ctx.workspace
    _, on_scenes = scene_settings(dict(p), False, data)
    judged = {"data.probe_options": on_scenes["data.probe_options"]}  # scenes, not crops
    out: dict[str, dict[str, list[float]]] = {}
    baseline: dict[str, float] = {}
    for crops, label in ((False, "scenes"), (True, "crops")):
        recipe, settings = scene_settings(dict(p), crops, data)
        out[label], out[f"{label} random"] = (
            {"object0": [], "object1": []},
            {"object0": [], "object1": []},
        )
        for seed in p["scene_seeds"]:
            run = f"{label}-s{seed}"
            ws.train(run, recipe, {**settings, "train.seed": seed})
            found = ws.analyze(
                f"{run}-objects", "suppression", run, ["--factors", "object0,object1"], judged
            )
            for name in ("object0", "object1"):
                out[label][name].append(float(found["factors"]["trained"][name]["score"]))
                random = found["factors"]["random init"][name]
                out[f"{label} random"][name].append(float(random["score"]))
                baseline[name] = float(random["baseline"])
    return {"top1": out, "baseline": baseline}
