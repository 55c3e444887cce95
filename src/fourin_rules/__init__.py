"""fourin-rules: discipline rules for dispatched cadres (四进攻坚), evaluated over event streams.

>>> from fourin_rules import Engine
>>> engine = Engine(reference={"cadres": []})
>>> engine.run([]).findings
[]
"""

from fourin_rules.engine import Engine, RunResult, Session
from fourin_rules.errors import FourinError, FourinErrors
from fourin_rules.ingest import IngestStats, QuarantineRecord, read_events
from fourin_rules.model.finding import Finding
from fourin_rules.model.reference import ReferenceData, load_reference
from fourin_rules.packs.loader import Pack, load_packs
from fourin_rules.packs.testing import run_pack_tests
from fourin_rules.plan import Plan, build_plan

__version__ = "0.1.0"

__all__ = [
    "Engine",
    "Finding",
    "FourinError",
    "FourinErrors",
    "IngestStats",
    "Pack",
    "Plan",
    "QuarantineRecord",
    "ReferenceData",
    "RunResult",
    "Session",
    "__version__",
    "build_plan",
    "load_packs",
    "load_reference",
    "read_events",
    "run_pack_tests",
]
