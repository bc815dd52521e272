"""The claims of Chen, Luo & Li 2021 (Intriguing Properties of Contrastive Losses) that the
reproduction tests, in our own words, each with its tag and where the paper's materials state it."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["LOSSES", "MULTI", "OVERLAY", "RANDBIT", "SOURCES"]

# the paper's own materials, where the claims below were checked
SOURCES = (
    "the paper (arXiv 2011.02803), its project page (contrastive-learning.github.io/intriguing) "
    "and its official colabs (github.com/google-research/simclr, colabs/intriguing_properties/)"
)

RANDBIT = Claim(
    "RandBit-MNIST colab, test accuracy of the linear head: tau=0.05: 89.9 / 70.6 / 33.0 at 0 / 5 "
    "/ 10 bits; tau=0.2: 90.0 / 33.0 / 10.4. In this official setup a lower temperature is more "
    "robust: accuracy collapses as bits grow, faster at higher tau",
    "[V-log]",
    "Chen, Luo & Li 2021, the official RandBit-MNIST colab (google-research/simclr, "
    "colabs/intriguing_properties/randbits_mnist.ipynb): its logged test accuracies",
)

LOSSES = Claim(
    "On ImageNet, with a >=2-layer nonlinear projection head, NT-Xent, decoupled NT-Xent and the "
    "SWD variants give similar linear accuracy (within about 1 point)",
    "[MEM]",
    "Chen, Luo & Li 2021, the ImageNet comparison of the generalized losses by projection-head "
    "depth (Tables 2-3; recalled, not re-read)",
)

OVERLAY = Claim(
    'DigitOnImageNet shows "a performance trade-off between digit recognition ability and '
    'object recognition ability"; as the number N of unique digits grows, expect object-label '
    "linear accuracy to fall and digit-label accuracy to rise (trend: [MEM])",
    "[V-page]",
    "Chen, Luo & Li 2021, project page (contrastive-learning.github.io/intriguing), "
    "DigitOnImageNet (quoted); the trend over N is recalled, not re-read",
)

MULTI = Claim(
    "Modified MultiDigits: two digits per image, one digit's size is varied. As the other digit "
    "grows, the representation of the small digit degrades while the dominant one is still learned",
    "[V-page]",
    "Chen, Luo & Li 2021, project page (contrastive-learning.github.io/intriguing), Modified "
    "MultiDigits",
)
