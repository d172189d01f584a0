"""Data flows one way through the pipeline's layers: the foundation (config, store, graph and
the small shared modules) serves the stages and never reaches up into one, so a stage can be
read, tested and replaced on its own."""

from pathlib import Path

import pytest
from test_tenant_boundary import imported_modules

import hdrive_migrate

PACKAGE = Path(hdrive_migrate.__file__).parent
STAGES = (
    "sources",
    "scan",
    "users",
    "policy",
    "plan",
    "migrate",
    "report",
    "desk",
    "notices",
    "cli",
    "tenant",
)
FOUNDATION = ("config.py", "clock.py", "errors.py", "naming.py", "store", "graph")


def modules_of(layer: str) -> list[Path]:
    path = PACKAGE / layer
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def stage_imports(path: Path) -> set[str]:
    return {
        module
        for module in imported_modules(path)
        if any(
            module == f"hdrive_migrate.{s}" or module.startswith(f"hdrive_migrate.{s}.")
            for s in STAGES
        )
    }


@pytest.mark.parametrize("layer", FOUNDATION)
def test_the_foundation_imports_no_stage(layer):
    files = modules_of(layer)
    assert files and all(path.exists() for path in files), f"{layer} was not found"
    offending = {f"{path.relative_to(PACKAGE)}: {m}" for path in files for m in stage_imports(path)}
    assert offending == set()


def test_the_check_sees_a_stage_import(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "from hdrive_migrate.migrate.run import Engine\nimport hdrive_migrate.plan\n"
    )
    assert stage_imports(planted) == {"hdrive_migrate.migrate.run", "hdrive_migrate.plan"}
