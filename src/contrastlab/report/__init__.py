"""Reports and figures."""

from contrastlab.core.figures import loss_curve
from contrastlab.report.results_table import results_table
from contrastlab.report.run_report import write_report

__all__ = ["loss_curve", "results_table", "write_report"]
