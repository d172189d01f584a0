"""The local tenant keeps its own reading of Microsoft's rules: it imports nothing from the
pipeline, so that a mistake in one reading cannot pass both sides."""

import ast
from pathlib import Path

import hdrive_migrate.tenant

TENANT = Path(hdrive_migrate.tenant.__file__).parent


def imported_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append(node.module or "")
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            found.append("." * node.level + (node.module or ""))  # reaches above the package
    return found


def test_the_tenant_imports_nothing_from_the_pipeline():
    offending = {
        f"{path.name}: {module}"
        for path in TENANT.glob("*.py")
        for module in imported_modules(path)
        if module.startswith("..")
        or (module.startswith("hdrive_migrate") and not module.startswith("hdrive_migrate.tenant"))
    }
    assert sorted(TENANT.glob("*.py")), "the tenant package was not found"
    assert offending == set()
