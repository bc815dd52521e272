"""The kinds of `contrastlab analyze KIND`: each is ``analyze_KIND`` in the module
`contrastlab.api.analyze_KIND`. Kept apart (it imports nothing) so that the command line lists
them without loading torch."""

ANALYSES = (
    "suppression",
    "speed",
    "covariance",
    "cka",
    "invariance",
    "interpolation",
    "criticality",
)
