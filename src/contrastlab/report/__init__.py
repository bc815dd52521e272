"""Reports and figures."""

from contrastlab.report.figures import loss_curve
from contrastlab.report.run_report import results_table, write_report

__all__ = ["loss_curve", "results_table", "write_report"]
