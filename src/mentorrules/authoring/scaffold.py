"""A pack name and jurisdiction -> a working plugin skeleton that installs and passes its tests.

    mentorrules new-pack oregon --jurisdiction OR --output packs/
    pip install -e packs/oregon
    mentorrules test        # the sample rule's two cases pass at once

``rules/pack.yaml`` names the pack and its jurisdiction, as the ``PackSpec`` of the module does,
so that the folder loaded by path (``mentorrules lint oregon/``) is the same pack as installed.

The skeleton carries a copy of the file schemas (``schemas/``), and its YAML files point at them
by a relative path (``# yaml-language-server: $schema=../../../schemas/rules.schema.json``), so
that editors check the files wherever the pack is cloned, with no path of this machine in it.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files as package_files
from pathlib import Path

from mentorrules import __version__

# USPS codes of the states, the District of Columbia and the territories.
US_JURISDICTIONS = frozenset((
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND",
    "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    "DC", "AS", "GU", "MP", "PR", "VI", "UM"))
SCHEMAS = ("rules", "parameters", "tests")
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def module_name(name: str) -> str:
    """The Python module of a pack name.

    >>> module_name("new-hampshire")
    'mentorrules_new_hampshire'
    """
    return "mentorrules_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def mistakes(name: str, jurisdiction: str, taken: set[str]) -> list[tuple[str, str]]:
    """What is wrong with a new pack's name and jurisdiction, as (what, how to fix it).

    ``taken`` holds the names installed packs answer to (declared and entry-point names) and
    their modules; a new pack must differ in both.

    >>> mistakes("oregon", "OR", {"core", "new-mexico", "alaska"})
    []
    >>> [what for what, _ in mistakes("alaska", "or", {"core", "new-mexico", "alaska"})]
    ["'alaska' is the name of an installed pack", "'or' is not a US state or territory code"]
    """
    found = []
    if not _NAME.fullmatch(name):  # which also makes mentorrules_<name> a Python identifier
        found.append((f"{name!r} is not a pack name",
                      "use lower-case letters and digits, words joined by single dashes, e.g. new-hampshire"))
    elif name in taken or module_name(name) in taken:
        found.append((f"{name!r} is the name of an installed pack",
                      "choose another name (see `mentorrules packs`)"))
    if jurisdiction not in US_JURISDICTIONS:
        hint = f"write it in capitals: {jurisdiction.upper()}" if jurisdiction.upper() in US_JURISDICTIONS \
            else "two capital letters, the state's postal code: OR, NH, PR"
        found.append((f"{jurisdiction!r} is not a US state or territory code", hint))
    return found


def files(name: str, jurisdiction: str) -> dict[str, str]:
    """Relative path -> content of every file of the skeleton.

    >>> sorted(files("oregon", "OR"))  # doctest: +NORMALIZE_WHITESPACE
    ['README.md', 'pyproject.toml', 'schemas/parameters.schema.json', 'schemas/rules.schema.json',
     'schemas/tests.schema.json', 'src/mentorrules_oregon/__init__.py',
     'src/mentorrules_oregon/rules/pack.yaml', 'src/mentorrules_oregon/rules/parameters.yaml',
     'src/mentorrules_oregon/rules/stipends.test.yaml', 'src/mentorrules_oregon/rules/stipends.yaml']
    """
    module = module_name(name)
    code = jurisdiction
    prefix = code
    rules = f"src/{module}/rules"

    def schema(kind: str) -> str:  # from rules/ up to the pack's own copy of the schemas
        return f"../../../schemas/{kind}.schema.json"

    schemas = {f"schemas/{kind}.schema.json": _schema_copy(kind) for kind in SCHEMAS}

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
{module} = ["rules/*.yaml", "rules/*.csv", "rules/*.xlsx"]
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
        f"{rules}/pack.yaml": f'''# The pack these rules belong to when the folder is loaded by path
# (mentorrules test PATH, lint PATH, --rules PATH): the same as the PackSpec in __init__.py.
name: {name}
jurisdiction: {code}
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
  rules: [{prefix}-001]
  expect: {{P-1: []}}

- name: one cent over the maximum fails
  tables:
    payouts:
      - {{payout_id: P-1, payee_id: T-1, role: mentor, program: {prefix}_MENTORING, state: {code},
         school_year: 2025-26, pay_date: 2025-09-15, amount: "2500.01"}}
  rules: [{prefix}-001]
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

`schemas/` holds the JSON Schemas of rule, parameter and test files (mentorrules {__version__});
the first line of each YAML file points editors at them. Refresh them from a newer mentorrules
with `mentorrules new-pack` into a scratch directory.
''',
        **schemas,
    }


def _schema_copy(kind: str) -> str:
    """A file schema without its ``$id``, so that its references to the other schemas
    (``rules.schema.json#/$defs/source``) resolve beside it, offline."""
    schema = json.loads((package_files("mentorrules") / "schemas" / f"{kind}.schema.json").read_text("utf-8"))
    schema.pop("$id", None)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write(name: str, jurisdiction: str, output: Path) -> Path:
    """Write the skeleton to ``output/name``; refuse to overwrite an existing directory.

    The caller checks :func:`mistakes` first.
    """
    root = output / name
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    for relative, content in files(name, jurisdiction).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root
