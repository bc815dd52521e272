"""Diagnostics of a representation: what it keeps, suppresses, is invariant to, and transfers
(CKA, co-firing invariance, interpolation barriers, module criticality, covariance alignment)."""
