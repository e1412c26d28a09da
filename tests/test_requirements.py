"""The dependency files: every top-level pin is used, compiled into its pinned tree at the same version,
and the runtime carries no optional provider's tree (pykrx's pandas, matplotlib and pillow)."""

from __future__ import annotations

import re
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".venv", ".venv-bench", "node_modules", "var", ".git", "__pycache__"}

# Top-level dependencies that are used without an import of their own, and how.
USED_WITHOUT_IMPORT = {
    "psycopg": "Django's PostgreSQL backend (DATABASE_URL=postgres://...) and its connection pool",
    "tzdata": "zoneinfo's time zones where the system has none (slim images, Windows)",
    "drf-spectacular-sidecar": "INSTALLED_APPS: self-hosted Swagger/Redoc assets",
    "jinja2": "Django's Jinja2 form renderer (core/form_renderer.py: the built-in form and widget templates)",
    "pytest-django": "the pytest plugin (DJANGO_SETTINGS_MODULE in pyproject.toml)",
    "pytest-cov": "the pytest plugin (--cov in pyproject.toml)",
    "pytest-asyncio": "the pytest plugin (async tests)",
}


def pins(path: Path) -> dict[str, Requirement]:
    """The requirements of one file and of the files it includes with ``-r``."""
    found: dict[str, Requirement] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
        elif line and not line.startswith("-"):
            requirement = Requirement(line)
            found[canonicalize_name(requirement.name)] = requirement
    return found


def sources() -> str:
    texts = []
    for path in ROOT.rglob("*.py"):
        if not SKIP_DIRS.intersection(path.relative_to(ROOT).parts):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


@pytest.mark.parametrize(("source", "compiled"), [
    ("requirements.in", "requirements.txt"),
    ("requirements-dev.in", "requirements-dev.txt"),
])
def test_every_top_level_pin_is_in_the_pinned_tree_at_the_same_version(source, compiled):
    tree = pins(ROOT / compiled)
    for name, requirement in pins(ROOT / source).items():
        assert name in tree, f"{name} of {source} is not in {compiled}"
        assert tree[name].specifier == requirement.specifier, f"{name}: {requirement} in {source}, {tree[name]} in {compiled}"
        assert str(requirement.specifier).startswith("=="), f"{name} is not pinned in {source}"


@pytest.mark.parametrize("source", ["requirements.in", "requirements-dev.in"])
def test_every_top_level_dependency_is_used(source):
    code = sources()
    modules: dict[str, set[str]] = {}
    for module, distributions in packages_distributions().items():
        for distribution in distributions:
            modules.setdefault(canonicalize_name(distribution), set()).add(module)
    unused = []
    for name in pins(ROOT / source):
        if name in USED_WITHOUT_IMPORT:
            continue
        names = modules.get(name, set()) - {"tests", "docs", "test"}
        # imported, or named in settings/config strings ("django_filters", "whitenoise.middleware...")
        if not any(re.search(rf"(\bimport {m}\b|\bfrom {m}[. ]|[\"']{m}[.\"':])", code) for m in names):
            unused.append(name)
    assert unused == [], f"pinned in {source} but never used: {unused}"


def test_the_runtime_tree_leaves_pykrx_and_its_pandas_to_the_optional_provider_file():
    runtime = pins(ROOT / "requirements.txt")
    optional = pins(ROOT / "requirements-pykrx.txt")
    assert {"pykrx", "pandas", "matplotlib", "pillow"}.isdisjoint(runtime)
    assert {"pykrx", "pandas"} <= optional.keys()
    assert "pykrx" in pins(ROOT / "requirements-dev.txt")  # the tests exercise the real adapter
