"""Generate a realistic tree of home drives for benchmarks: nested like real H: drives (Documents,
Desktop, project folders by year, pictures, downloads), Office and mail files beside clutter, sizes
spread from bytes to megabytes (sparse, so disk use stays small), times over ten years."""

import os
import random
import time
from pathlib import Path

TOP_FOLDERS = [
    "Documents",
    "Desktop",
    "Downloads",
    "My Pictures",
    "Projects",
    "Personal",
    "Team Share Copies",
    "Archive",
]
SUB_FOLDERS = [
    "2016",
    "2017",
    "2018",
    "2019",
    "2020",
    "2021",
    "2022",
    "2023",
    "Op Kestrel",
    "Budget",
    "Training",
    "Meeting notes",
    "Scans",
    "Old",
    "Drafts",
    "Reports",
]
EXTENSIONS = [
    (".docx", 30),
    (".xlsx", 12),
    (".pdf", 15),
    (".msg", 10),
    (".jpg", 10),
    (".pptx", 4),
    (".txt", 5),
    (".tmp", 2),
    (".zip", 2),
    (".png", 4),
    (".csv", 3),
    (".pst", 1),
    (".exe", 1),
    (".mp4", 1),
]
STEMS = [
    "report",
    "minutes",
    "statement",
    "rota",
    "budget",
    "notes",
    "scan",
    "IMG",
    "letter",
    "briefing",
    "template",
    "Copy of plan",
    "appraisal",
    "expenses",
    "handover",
]


def _extension(rng: random.Random) -> str:
    names, weights = zip(*EXTENSIONS, strict=True)
    return rng.choices(names, weights)[0]


def _size(rng: random.Random) -> int:
    return int(min(rng.lognormvariate(10.5, 2.0), 2 * 1024**3))


def _folder_paths(rng: random.Random, user: Path, count: int) -> list[Path]:
    folders = [user]
    while len(folders) < count:
        parent = rng.choice(folders[: max(1, len(folders))])
        depth = len(parent.relative_to(user).parts)
        if depth >= 7:
            continue
        names = TOP_FOLDERS if depth == 0 else SUB_FOLDERS
        folders.append(parent / f"{rng.choice(names)} {len(folders)}")
    return folders


def user_files(name: str, files: int, rng: random.Random):
    """(folders, [(path, size, modified)]) of one generated home folder, paths below `name`."""
    user = Path(name)
    folders = _folder_paths(rng, user, max(2, files // 25))
    now = time.time()
    listing = [
        (
            rng.choice(folders) / f"{rng.choice(STEMS)} {number}{_extension(rng)}",
            _size(rng),
            now - rng.uniform(0, 10 * 365 * 86400),
        )
        for number in range(files)
    ]
    return folders, listing


def make_user(root: Path, name: str, files: int, rng: random.Random) -> None:
    folders, listing = user_files(name, files, rng)
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for path, size, modified in listing:
        fd = os.open(root / path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(fd, size)
        os.close(fd)
        os.utime(root / path, (modified, modified))


def make_tree(root: Path, files: int, users: int, seed: int = 7) -> list[str]:
    """Create `users` home folders holding `files` files in all; return the folder names."""
    rng = random.Random(seed)
    names = [f"user{number:05d}" for number in range(users)]
    for name in names:
        make_user(root, name, files // users, rng)
    return names
