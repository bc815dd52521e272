"""The claim of Ho & Vasconcelos 2020 (Contrastive Learning with Adversarial Examples) that the
reproduction tests, in our own words, with its tag and where the paper states it."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["GAIN", "SOURCES"]

# the paper's own materials, where the claims below were checked
SOURCES = "the paper (arXiv 2010.12050) and the authors' code (github.com/chihhuiho/CLAE)"

GAIN = Claim(
    "CLAE improves every baseline (Plain, UEL, SimCLR) on CIFAR-10, CIFAR-100 and tinyImageNet, "
    "typically by under 1 to about 2 points of top-1; at CPU scale (3 seeds, kNN) expect a small "
    "positive mean gain (under about 1 point): a low-power test",
    "[MEM]",
    "Ho & Vasconcelos 2020, Tables 1-3 (recalled, not re-read); the expectation at CPU scale is "
    "ours",
)
