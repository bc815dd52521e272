"""The library under the command line: every command is a call here (prepare data, train a
recipe into a run directory, load a run's model, evaluate, analyse)."""
