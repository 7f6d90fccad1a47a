"""mentorrules policy pack for New Mexico: the NM teacher mentorship pilot (Alamogordo, Belen,
Farmington, Peñasco), beginning-teacher mentorship under 6.60.10 NMAC, and Title II-A
supplanting.

The rules, parameters and rule tests are YAML files in ``rules/`` beside this module.
"""

from __future__ import annotations

from pathlib import Path

from mentorrules.hookspecs import PackSpec, hookimpl

__version__ = "0.1.0"


@hookimpl
def mentorrules_pack() -> PackSpec:
    return PackSpec(name="new-mexico", version=__version__, jurisdiction="NM",
                    rule_dirs=(Path(__file__).parent / "rules",), programs=("NM_PILOT", "NM_BEGINNING"),
                    description=("The NM teacher mentorship pilot (Alamogordo, Belen, Farmington, Peñasco), "
                                "beginning-teacher mentorship under 6.60.10 NMAC, and Title II-A supplanting."))
