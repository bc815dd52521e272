"""The claims of Khosla et al. 2020 (Supervised Contrastive Learning) that the reproduction tests,
in our own words, each with its tag and where the paper's materials state it."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["RANKING", "SOURCES", "VARIANTS"]

# the paper's own materials, where the claims below were checked
SOURCES = (
    "the paper (arXiv 2004.11362) and the authors' PyTorch code "
    "(github.com/HobbitLong/SupContrast), whose README lists the CIFAR results"
)

RANKING = Claim(
    "CIFAR-10, ResNet-50, linear top-1: SupCon 96.0 > cross-entropy 95.0 > SimCLR 93.6; "
    "at CPU scale linear eval should rank SupCon >= CE > SimCLR",
    "[V-page]",
    "Khosla et al. 2020, the CIFAR-10 results as the SupContrast README "
    "(github.com/HobbitLong/SupContrast) lists them, matching the paper's CIFAR table; the "
    "ranking at CPU scale is our expectation",
)

VARIANTS = Claim(
    "L_out (the mean of log-probabilities outside the log) beats L_in (inside): ImageNet "
    "ResNet-50 top-1 78.7 vs 67.4; L_in should be clearly worse at CPU scale (magnitude unknown)",
    "[MEM]",
    "Khosla et al. 2020, the ImageNet comparison of the two loss variants (recalled, not "
    "re-read); the expectation at CPU scale is ours",
)
