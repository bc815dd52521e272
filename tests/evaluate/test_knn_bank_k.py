"""kNN's k never exceeds what the bank supports: min(knn_k, max(1, n_bank // classes)), at most
n_bank; the suite uses that k and records it beside the requested one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from contrastlab.config.evaluation import EvalConfig
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import knn_scores
from contrastlab.evaluate.knn import bank_k
from contrastlab.evaluate.suite import EvalData, SuiteOptions, protocol_params, run_protocols
from contrastlab.report import results_table


@pytest.mark.parametrize(
    ("k", "n_bank", "classes", "used"),
    [(200, 160, 20, 8), (200, 20000, 10, 200), (200, 3, 5, 1), (5, 3, 1, 3), (10, 100, 10, 10)],
)
def test_the_rule(k: int, n_bank: int, classes: int, used: int) -> None:
    assert bank_k(k, n_bank, classes) == used


def test_the_rule_refuses_empty_inputs() -> None:
    with pytest.raises(ContrastlabError, match="must be at least 1"):
        bank_k(200, 0, 10)


def _problem() -> EvalData:
    """A 160-image bank of 20 classes (8 each) and 40 queries, as 6-dimensional features."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(20, 6, generator=g)
    train_y, test_y = torch.arange(160) % 20, torch.arange(40) % 20
    train = centres[train_y] + 0.8 * torch.randn(160, 6, generator=g)
    test = centres[test_y] + 0.8 * torch.randn(40, 6, generator=g)
    return EvalData(train, train_y, test, test_y, num_classes=20)


class Features(nn.Module):
    """The "images" are the features already (float, passed through)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_the_suite_votes_with_the_lowered_k(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _problem()
    # the suite's feature step takes uint8 images; here the data are features already
    monkeypatch.setattr(
        "contrastlab.evaluate.suite.extract_features", lambda encoder, x, **_: x.float()
    )
    config = EvalConfig(protocols=("knn",), knn_k=200, knn_vote="majority")
    figures = run_protocols(Features(), data, config, SuiteOptions(progress=True))
    splits = (data.train_images, data.train_labels, data.test_images, data.test_labels)
    expected = knn_scores(*splits, num_classes=20, k=8, vote="majority")
    whole_bank = knn_scores(*splits, num_classes=20, k=200, vote="majority")
    assert figures["knn_top1"] == expected["top1"] != whole_bank["top1"]
    err = capsys.readouterr().err
    assert "kNN: k=8 instead of eval.knn_k=200: a 160-image bank of 20 classes" in err
    params = protocol_params(config, 20, n_bank=160)["knn"]
    assert (params["k"], params["k_requested"]) == (8, 200)
    assert (params["bank_size"], params["classes"]) == (160, 20)
    assert protocol_params(config, 20)["knn"]["k"] == 200  # the bank not known yet


def test_the_table_says_k_was_lowered() -> None:
    params = protocol_params(EvalConfig(protocols=("knn",)), 20, n_bank=160)
    table = results_table({"knn_top1": 0.5, "random_knn_top1": 0.25, "protocols": params})
    assert (
        "| kNN top-1 | 0.500 | 0.250 | — | weighted, k=8 (200 requested; 160-image bank, " in table
    )
    kept = protocol_params(EvalConfig(protocols=("knn",)), 10, n_bank=20000)
    assert "| weighted, k=200, t=0.1 |" in results_table({"knn_top1": 0.5, "protocols": kept})
