"""Run reports: report.json, JUnit properties, console summary, run-to-run comparison."""

from chaos.report.data import FaultRecord, ReportData
from chaos.report.summary import SummaryRow, compare, junit_properties, summary_row, summary_table
from chaos.report.types import SCHEMA_VERSION, TOP_LEVEL_KEYS, ReportDict
from chaos.report.writer import build_report, load_report, write_report

__all__ = [
    "SCHEMA_VERSION",
    "TOP_LEVEL_KEYS",
    "FaultRecord",
    "ReportData",
    "ReportDict",
    "SummaryRow",
    "build_report",
    "compare",
    "junit_properties",
    "load_report",
    "summary_row",
    "summary_table",
    "write_report",
]
