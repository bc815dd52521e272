"""The claims of Purushwalkam & Gupta 2020 (Demystifying Contrastive Self-Supervised Learning)
that the reproduction tests, in our own words, each with its tag and where the paper states it."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["CONTRAST", "ILLUMINATION", "OBJECT_CENTRIC", "SOURCES"]

# the paper's own materials, where the claims below were checked
SOURCES = (
    "the paper (arXiv 2007.13916) and the authors' invariance code "
    "(github.com/senthilps8/demystifyssl)"
)

CONTRAST = Claim(
    "MoCo and PIRL learn occlusion-invariant representations (higher than supervised) but fail "
    "to capture viewpoint and category-instance invariance",
    "[V-page]",
    "Purushwalkam & Gupta 2020, abstract",
)

ILLUMINATION = Claim(
    "Compare a SimCLR-trained small net against a supervised one: hue invariance should be "
    "high for both. The direction is [MEM] and has not been checked at this scale",
    "[MEM]",
    "our check at CPU scale of the illumination invariance Purushwalkam & Gupta 2020 measure "
    "(their Table 1; recalled, not re-read)",
)

OBJECT_CENTRIC = Claim(
    "Gains depend on an object-centric dataset (ImageNet) rather than scene-centric data (MS-COCO)",
    "[V-page]",
    "Purushwalkam & Gupta 2020, abstract",
)
