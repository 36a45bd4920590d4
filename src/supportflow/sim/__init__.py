"""`supportflow simulate`: many scripted customers against a running stack, and a report.

result = await simulate(Target(...), SimOptions(customers=200, concurrency=20))
write_report(result, Path("sim-report"))
"""

from supportflow.sim.behaviours import BEHAVIOURS, WITH_ACTIONS
from supportflow.sim.model import (
    ConversationResult,
    MemorySample,
    ReportPaths,
    SentMessage,
    SimOptions,
    SimResult,
    Target,
)
from supportflow.sim.report import write_report
from supportflow.sim.runner import simulate
from supportflow.sim.stack import embedded_stack, target_from_data_dir

__all__ = [
    "BEHAVIOURS",
    "WITH_ACTIONS",
    "ConversationResult",
    "MemorySample",
    "ReportPaths",
    "SentMessage",
    "SimOptions",
    "SimResult",
    "Target",
    "embedded_stack",
    "simulate",
    "target_from_data_dir",
    "write_report",
]
