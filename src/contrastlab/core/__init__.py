"""The bottom layer: leaf helpers every other package may use (errors, atomic file writes,
the distributed helpers, shared checks, figure saving, hardware notes). It imports no other
package of contrastlab."""
