"""Case-insensitive path globs, as records managers and engineers write them: `*` and `?` stay
within one folder, `**` crosses folders, `Folder/**` is the folder and everything in it, and a
glob without '/' matches a name at any depth."""

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(glob: str) -> re.Pattern[str]:
    """A regular expression matching what `glob` matches (against a '/'-separated path)."""
    anywhere = "/" not in glob
    glob = glob.strip("/")
    folder_and_below = glob.endswith("/**")
    body = _translate(glob[:-3]) + r"(?:/.*)?" if folder_and_below else _translate(glob)
    prefix = r"(?:.*/)?" if anywhere else ""
    return re.compile(f"{prefix}{body}", re.IGNORECASE | re.DOTALL)


def matches(glob: str, path: str) -> bool:
    return compile_glob(glob).fullmatch(path) is not None


def _translate(glob: str) -> str:
    return "".join(regex for _, regex in glob_parts(glob))


def glob_parts(glob: str) -> list[tuple[str, str]]:
    """GLOB taken apart as `compile_glob` reads it: (kind, regular expression) for each part,
    kind being '**/', '**', '*', '?' or 'one' (a character set or a literal character)."""
    parts = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            parts.append(("**/", r"(?:.*/)?"))
            index += 3
        elif glob.startswith("**", index):
            parts.append(("**", r".*"))
            index += 2
        elif char in "*?":
            parts.append((char, {"*": r"[^/]*", "?": r"[^/]"}[char]))
            index += 1
        else:
            parts.append(("one", _bracket_or_literal(glob, index)))
            index += _consumed(glob, index)
    return parts


def _closing_bracket(glob: str, index: int) -> int:
    return glob.find("]", index + 2) if glob[index] == "[" else -1


def _bracket_or_literal(glob: str, index: int) -> str:
    end = _closing_bracket(glob, index)
    if end == -1:
        return re.escape(glob[index])
    inner = glob[index + 1 : end]
    negated = inner.startswith("!")
    # `[`, `&`, `~` and `|` are plain in a glob's set, but may start a nested set or a set
    # operation in a future `re` (it warns today): escaped, they stay plain.
    inner = re.sub(r"([\\\]\[^&~|])", r"\\\1", inner[1:] if negated else inner)
    return f"[^/{inner}]" if negated else f"[{inner}]"


def _consumed(glob: str, index: int) -> int:
    end = _closing_bracket(glob, index)
    return end - index + 1 if end != -1 else 1
