"""A pack name and jurisdiction -> a working plugin skeleton that installs and passes its tests.

    mentorrules new-pack oregon --jurisdiction OR --output packs/
    pip install -e packs/oregon
    mentorrules test        # the sample rule's two cases pass at once
"""

from __future__ import annotations

import re
from pathlib import Path

from mentorrules import __version__


def module_name(name: str) -> str:
    """The Python module of a pack name.

    >>> module_name("new-hampshire")
    'mentorrules_new_hampshire'
    """
    return "mentorrules_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def files(name: str, jurisdiction: str, schemas: Path) -> dict[str, str]:
    """Relative path -> content of every file of the skeleton."""
    module = module_name(name)
    code = jurisdiction.upper()
    prefix = re.sub(r"[^A-Z0-9]", "", code) or "PACK"
    rules = f"src/{module}/rules"

    def schema(kind: str) -> str:  # editors follow this path to check the file as it is typed
        return str(schemas / f"{kind}.schema.json")

    return {
        "pyproject.toml": f'''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "mentorrules-{name}"
version = "0.1.0"
description = "mentorrules policy pack for {code}."
requires-python = ">=3.11"
dependencies = ["mentorrules>={__version__}"]

[project.entry-points.mentorrules]
{name} = "{module}"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
{module} = ["rules/*.yaml"]
''',
        f"src/{module}/__init__.py": f'''"""mentorrules policy pack for {code}.

Rules, parameters and tests are YAML files in rules/ beside this module.
"""

from __future__ import annotations

from pathlib import Path

from mentorrules.hookspecs import PackSpec, hookimpl

__version__ = "0.1.0"


@hookimpl
def mentorrules_pack() -> PackSpec:
    return PackSpec(name="{name}", version=__version__, jurisdiction="{code}",
                    rule_dirs=(Path(__file__).parent / "rules",),
                    description="Policy rules for {code}.")
''',
        f"{rules}/parameters.yaml": f'''# yaml-language-server: $schema={schema("parameters")}
# Parameters of the {code} pack. A value holds from its date until the next one.
parameters:
  max_stipend:
    description: Most a single payout may be, in USD.
    illustrative: true  # replace with the amount your policy sets, from the date it takes effect
    unit: USD
    values:
      2025-07-01: 2500.00
''',
        f"{rules}/stipends.yaml": f'''# yaml-language-server: $schema={schema("rules")}
rules:
  - id: {prefix}-001
    title: A single payout is at most the maximum stipend
    description: Each payout to a mentor or mentee is at most max_stipend.
    table: payouts
    require: payout.amount <= params.max_stipend
    severity: error
    message: "payout of {{payout.amount}} is more than the maximum stipend {{params.max_stipend}}"
    source:
      title: {code} mentorship program rules
      section: stipend amounts
''',
        f"{rules}/stipends.test.yaml": f'''# yaml-language-server: $schema={schema("tests")}
- name: a payout of exactly the maximum passes
  tables:
    payouts:
      - {{payout_id: P-1, payee_id: T-1, role: mentor, program: {prefix}_MENTORING, state: {code},
         school_year: 2025-26, pay_date: 2025-09-15, amount: "2500.00"}}
  expect: {{P-1: []}}

- name: one cent over the maximum fails
  tables:
    payouts:
      - {{payout_id: P-1, payee_id: T-1, role: mentor, program: {prefix}_MENTORING, state: {code},
         school_year: 2025-26, pay_date: 2025-09-15, amount: "2500.01"}}
  expect: {{P-1: [{prefix}-001]}}
''',
        "README.md": f'''# mentorrules-{name}

mentorrules policy pack for {code}. Install it beside mentorrules:

    pip install -e .
    mentorrules packs      # lists {name}
    mentorrules test       # runs the rule tests in {rules}/
    mentorrules lint

Rules apply to rows whose `state` (or whose district's state) is `{code}`. Write rules in
`{rules}/*.yaml`, parameters in `parameters.yaml`, and tests beside each rule file
(`x.test.yaml` tests `x.yaml`). See the mentorrules README, "Write a rule".
''',
    }


def write(name: str, jurisdiction: str, output: Path, schemas: Path) -> Path:
    """Write the skeleton to ``output/name``; refuse to overwrite an existing directory."""
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ValueError(f"{name!r} is not a pack name: use lower-case letters, digits and dashes")
    if not re.fullmatch(r"[A-Za-z]{2,3}", jurisdiction):
        raise ValueError(f"{jurisdiction!r} is not a jurisdiction code such as OR")
    root = output / name
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    for relative, content in files(name, jurisdiction, schemas).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root
