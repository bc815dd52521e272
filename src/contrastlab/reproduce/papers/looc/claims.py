"""The claims of Xiao, Wang, Efros & Darrell 2021 (What Should Not Be Contrastive in Contrastive
Learning) that the reproduction tests, in our own words, each with its tag and where the paper
states it (no official code was found: all but the abstract is recalled)."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["CLASS", "LOOC_PLUS", "ROTATION", "SOURCES"]

# the paper's own materials, where the claims below were checked
SOURCES = "the paper (arXiv 2008.05659); no official code was found"

ROTATION = Claim(
    "A 4-way rotation-prediction linear probe on frozen features should be near chance for "
    "MoCo+rot (invariance) and high for LooC's Z_rot",
    "[MEM]",
    "Xiao et al. 2021, the rotation-prediction probes of its embedding spaces (recalled, not "
    "re-read); the expectation at CPU scale is ours",
)

CLASS = Claim(
    "Adding rotation augmentation to MoCo hurts IN-100 accuracy. LooC with rotation does not; "
    "the CIFAR-10 class probe should not degrade for LooC",
    "[MEM]",
    "Xiao et al. 2021, the ImageNet-100 results with rotation augmentation (recalled, not "
    "re-read); the expectation at CPU scale is ours",
)

LOOC_PLUS = Claim(
    'the abstract says "the concatenation of the invariant and varying spaces performs best '
    'across all tasks we investigate"',
    "[V-page]",
    "Xiao et al. 2021, abstract (quoted)",
)
