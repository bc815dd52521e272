"""The claims of Neyshabur, Sedghi & Zhang 2020 (What is being transferred in transfer learning?)
that the reproduction tests, in our own words, each with its tag and where the paper states it."""

from contrastlab.reproduce.verdict import Claim

__all__ = ["BASIN", "CRITICAL", "GAP", "SIMILAR", "SOURCES", "SPEED"]

# the paper's own materials, where the claims below were checked
SOURCES = (
    "the paper (arXiv 2008.11687) and the authors' code "
    "(github.com/google-research/understanding-transfer-learning)"
)

GAP = Claim(
    "Part of the benefit of pretraining survives block shuffling ... while the *accuracy* gain "
    "shrinks as b decreases; CPU check: the P-T minus RI-T accuracy gap to shrink as b gets "
    "smaller",
    "[V-page]",
    "Neyshabur, Sedghi & Zhang 2020, abstract and block-shuffle experiments (official configs "
    "p200_pix_shuffle); the check at CPU scale is ours",
)

SPEED = Claim(
    "P-T still optimises faster even at small block sizes ... Quickdraw shows little accuracy "
    "gain but still a speed-up; CPU check: P-T to reach the RI-T final loss in fewer epochs "
    "even at b=1",
    "[V-page]",
    "Neyshabur, Sedghi & Zhang 2020, abstract and block-shuffle experiments on DomainNet (real, "
    "clipart, quickdraw); the check at CPU scale is ours",
)

BASIN = Claim(
    "When training from pre-trained weights, the model stays in the same basin in the loss "
    "landscape: P-T to P-T interpolation: no barrier; RI-T to RI-T: barrier",
    "[V-page]",
    "Neyshabur, Sedghi & Zhang 2020, abstract (quoted) and the interpolation experiments "
    "(official code: ckpt_interpolation.py); the check at CPU scale is ours",
)

SIMILAR = Claim(
    "different instances of such model are similar in feature space and close in parameter "
    "space; CPU check: linear CKA per layer: P-T/P-T above RI-T/RI-T",
    "[V-page]",
    "Neyshabur, Sedghi & Zhang 2020, abstract (quoted); that the feature similarity is linear "
    "CKA per layer is recalled, not re-read",
)

CRITICAL = Claim(
    "Module criticality: lower layers of P-T are less critical than higher layers",
    "[MEM]",
    "Neyshabur, Sedghi & Zhang 2020, module criticality (the measure of Chatterji, Neyshabur & "
    "Sedghi, ICLR 2020; recalled, not re-read)",
)
