"""LOOC's acceptance check (PAPERS.md 4(f)): after the same short run on digits, a 4-way rotation
probe reads rotation better from LOOC's rotation-varying space than from the embedding of MoCo
trained with rotation as one more augmentation (which it is taught to ignore)."""

from __future__ import annotations

import pytest
import torch

from contrastlab.api.data import prepare_data
from contrastlab.config import load_recipe
from contrastlab.evaluate.rotation import rotation_probe
from contrastlab.methods import LOOC, MoCo, build_method
from contrastlab.methods.base import method_representations

STEPS = 300


def short_run(recipe_name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    recipe = load_recipe(recipe_name, [("train.progress", False)])
    data = prepare_data(recipe.data, progress=False)
    assert data.test is not None
    method = build_method(recipe)
    params = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=recipe.optim.lr)
    generator = torch.Generator().manual_seed(0)
    images, labels = data.train.images, data.train.labels
    method.train()
    for step in range(STEPS):
        rows = torch.randint(0, len(images), (64,), generator=torch.Generator().manual_seed(step))
        loss, _ = method({"image": images[rows], "label": labels[rows]}, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return method, data.test.images


@pytest.mark.slow  # 52 s on an AVX2 2-core machine, where the default suite passed 15 minutes
def test_rotation_space_keeps_rotation_that_moco_with_rotation_drops() -> None:
    looc, test_images = short_run("looc_resnet18w0.125_digits_100e")
    moco, _ = short_run("moco_resnet18w0.125_digitsrot_100e")
    assert isinstance(looc, LOOC) and isinstance(moco, MoCo)
    spaces = looc.representations()
    z_rotation = rotation_probe(spaces["z_rotation"], test_images)
    z_all = rotation_probe(spaces["z_all"], test_images)
    moco_embedding = rotation_probe(method_representations(moco)["embedding"], test_images)
    print(
        f"\nrotation probe after {STEPS} steps: LOOC z_rotation {z_rotation:.3f}, LOOC z_all "
        f"{z_all:.3f}, MoCo+rotation embedding {moco_embedding:.3f} (chance 0.25)"
    )
    assert z_rotation > moco_embedding + 0.03
    assert z_rotation > z_all
