"""The seed papers' reproductions, one package per paper (`contrastlab reproduce NAME` loads
``contrastlab.reproduce.papers.<NAME with - as _>``): each exports ``PAPER`` (a
`contrastlab.reproduce.paper.Paper`) and keeps its claims, with their tags and where the paper
states them, in its ``claims`` module."""
