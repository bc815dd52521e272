"""The choices `contrastlab analyze` offers: the kinds (each is ``analyze_KIND`` in the module
`contrastlab.api.analyze_KIND`) and the invariance analysis's transformation sets. Kept apart (it
imports nothing) so that the command line lists them without loading torch."""

ANALYSES = (
    "suppression",
    "speed",
    "covariance",
    "cka",
    "invariance",
    "interpolation",
    "criticality",
)
# `analyze invariance --transforms`: the sets it measures by default, and instance sets (images
# grouped by object, which only an .npz source with a 'groups' array has)
DEFAULT_INVARIANCE_SETS = ("occlusion", "rotation", "illumination")
INVARIANCE_SETS = (*DEFAULT_INVARIANCE_SETS, "instance")
