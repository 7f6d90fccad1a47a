"""mentorrules policy pack for Alaska: the Alaska Statewide Mentor Project (ASMP): early-career
mentees, caseloads, full-release and non-evaluative mentors, district cost share.

The rules, parameters and rule tests are YAML files in ``rules/`` beside this module.
"""

from __future__ import annotations

from pathlib import Path

from mentorrules.hookspecs import PackSpec, hookimpl

__version__ = "0.1.0"


@hookimpl
def mentorrules_pack() -> PackSpec:
    return PackSpec(name="alaska", version=__version__, jurisdiction="AK",
                    rule_dirs=(Path(__file__).parent / "rules",), programs=("AK_ASMP",),
                    description=("The Alaska Statewide Mentor Project (ASMP): early-career mentees, "
                                "caseloads, full-release and non-evaluative mentors, district cost share."))
