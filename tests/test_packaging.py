"""An installed copy has every file the package reads at run time: each non-Python file under
src/hdrive_migrate is named by pyproject.toml's package-data (setuptools packs nothing else)."""

import tomllib
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

REPO = Path(__file__).parent.parent
SOURCE = REPO / "src"
PACKAGE = SOURCE / "hdrive_migrate"


def package_data() -> dict[str, list[str]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    return config["tool"]["setuptools"]["package-data"]


def matches(relative: PurePosixPath, pattern: str) -> bool:
    """As setuptools globs: '*' stays within one folder."""
    parts = PurePosixPath(pattern).parts
    return len(parts) == len(relative.parts) and all(
        fnmatchcase(name, glob) for name, glob in zip(relative.parts, parts, strict=True)
    )


def packed(path: Path, globs: dict[str, list[str]]) -> bool:
    """Whether a glob of a package holding PATH (at any depth) names it."""
    for folder in path.relative_to(SOURCE).parents:
        name = ".".join(folder.parts)
        if not name.startswith("hdrive_migrate"):
            continue
        relative = PurePosixPath(path.relative_to(SOURCE / folder).as_posix())
        if any(matches(relative, glob) for glob in [*globs.get(name, []), *globs.get("*", [])]):
            return True
    return False


def data_files() -> list[Path]:
    return [
        path
        for path in PACKAGE.rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts
    ]


def test_every_data_file_is_packed():
    files = data_files()
    assert PACKAGE / "report" / "templates" / "summary.html.j2" in files
    assert [path for path in files if not packed(path, package_data())] == []


def test_the_check_sees_a_file_left_out():
    globs = {"*": ["templates/*.j2"], "hdrive_migrate.demo": ["*.yaml"]}
    assert packed(PACKAGE / "report" / "templates" / "summary.html.j2", globs)
    assert packed(PACKAGE / "demo" / "personal-files.yaml", globs)
    assert not packed(PACKAGE / "report" / "templates" / "logo.svg", globs)
    assert not packed(PACKAGE / "report" / "templates" / "deeper" / "page.j2", globs)
    assert not packed(PACKAGE / "plan" / "personal-files.yaml", globs)
