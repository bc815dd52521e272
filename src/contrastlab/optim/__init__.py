"""Optimizers and learning-rate schedules (SGD, Adam, LARS; warm-up and cosine), built from a
recipe's ``optim:`` section."""
