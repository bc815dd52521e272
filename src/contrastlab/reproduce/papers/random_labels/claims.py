"""The claims of Maennel et al. 2020 (What Do Neural Networks Learn When Trained With Random
Labels?) that the reproduction tests, in our own words, each with its tag and where the paper
states it (no official code was found)."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["ALIGNMENT", "MAPPING", "SAMPLING", "SOURCES"]

# the paper's own materials, where the claims below were checked
SOURCES = "the paper (arXiv 2006.10455); no official code was found"

ALIGNMENT = Claim(
    "for fully connected and convolutional nets trained with random labels, this alignment "
    "emerges in the first layer; the off-diagonal ratio of U^T Sigma_w U should decrease from "
    "init",
    "[V-page]",
    "Maennel et al. 2020, abstract (the first layer's covariance aligns with the data's); the "
    "off-diagonal score is our measure",
)

MAPPING = Claim(
    "sigma_i vs lambda_i should become a smooth curve; the paper reports a smooth mapping that "
    "increases for small lambda and decreases for large lambda (a hump)",
    "[MEM]",
    "Maennel et al. 2020, the eigenvalue mapping of the first layer (recalled, not re-read); "
    "the smoothness check is ours",
)

SAMPLING = Claim(
    "initialise a fresh network's first layer by sampling from N(0, U diag(f(lambda)) U^T), with "
    "the norm matched to the default init: on real labels, the first 1-2 epochs should have "
    "lower training loss than default init (the training-speed gain is [MEM] and has not been "
    "checked at this scale)",
    "[MEM]",
    "Maennel et al. 2020, the experiment that samples a first layer from the aligned covariance "
    "(recalled, not re-read); the check at CPU scale is ours",
)
