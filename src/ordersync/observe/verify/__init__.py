"""`ordersync verify`: report.py runs the checks (checks.py) and the audit scans (audits.py)."""

from ordersync.observe.verify.report import FAILED_EXIT, VerifyReport, parse_checks, run
from ordersync.observe.verify.results import CHECKS, CheckResult, Context

__all__ = ["CHECKS", "FAILED_EXIT", "CheckResult", "Context", "VerifyReport", "parse_checks", "run"]
