"""A sample home share that looks like a force's H: drives: one folder per person with the
files and the mess that real home folders hold, each kind chosen to meet a rule of the shipped
policy or a OneDrive limit, so the demo shows every path a file can take.

Only files this module creates are written to, and their times set (with os.utime): the
sample stands in for an H: drive, which the tool itself only ever reads.
"""

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hdrive_migrate.config import DEFAULT_TARGET_FOLDER
from hdrive_migrate.naming import MAX_PATH_CHARACTERS

DOMAIN = "demo.police.test"
MIB = 1024 * 1024
DAY = 86400
# Mine, not the policy's: rule R7 disposes of files not modified for more than six years.
OLD_YEARS = (7, 12)
RECENT_DAYS = (3, 4 * 365)

FIRST_NAMES = ("Alice", "Ben", "Chloe", "Dev", "Emma", "Faisal", "Grace", "Harry", "Isla", "Jack")
LAST_NAMES = ("Hughes", "Okafor", "Evans", "Patel", "Clarke", "Khan", "Lewis", "Morgan", "Reid")


@dataclass(frozen=True)
class Person:
    """One member of staff: their home folder is their sAMAccountName, as on most H: shares."""

    display_name: str
    sam: str
    upn: str
    provisioned: bool


@dataclass(frozen=True)
class SampleFile:
    """A file to write: PATH relative to the home folder, with "/"; its modification time
    AGE_DAYS before now; TEXT to open and read, else SIZE random bytes that are the same for
    every file with the same CONTENT key (default the path), as a copied file's are."""

    path: str
    size: int
    age_days: float
    text: str | None = None
    content: str | None = None


def text_file(path: str, age_days: float, text: str) -> SampleFile:
    return SampleFile(path, len(text.encode()), age_days, text)


@dataclass
class Sample:
    """What was written: the people, totals, and files worth explaining, by UPN and path."""

    people: list[Person]
    files: int = 0
    bytes: int = 0
    renamed: tuple[str, str] | None = None  # a name OneDrive refuses
    old: tuple[str, str] | None = None  # a file older than six years
    held: tuple[str, str] | None = None  # a folder on the hold register, as a glob
    notes: list[str] = field(default_factory=list)


# Person i is FIRST_NAMES[i % 10] LAST_NAMES[i % 9]: as 10 and 9 share no factor, every pair
# comes once, so names, accounts (first initials differ) and UPNs are unique.
MAX_PEOPLE = len(FIRST_NAMES) * len(LAST_NAMES)


def people(count: int) -> list[Person]:
    """COUNT people (at most MAX_PEOPLE); the last has no OneDrive yet, as in every wave some
    account's OneDrive has not been provisioned."""
    staff = []
    for index in range(count):
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
        staff.append(
            Person(
                display_name=f"{first} {last}",
                sam=f"{first[0]}{last}".lower(),
                upn=f"{first}.{last}@{DOMAIN}".lower(),
                provisioned=index < count - 1,
            )
        )
    return staff


def write_share(root: Path, staff: list[Person], now: float, seed: int = 1) -> Sample:
    """Write each person's home folder under ROOT, with file times relative to NOW (epoch
    seconds); the same SEED and staff give the same share."""
    rng = random.Random(seed)
    sample = Sample(staff)
    movers = [person for person in staff if person.provisioned]
    for index, person in enumerate(staff):
        files = list(everyday_files(rng))
        if index == 0:
            files += awkward_files(sample, person)
        if person in movers:
            files += large_files(movers.index(person), len(movers))
        for item in files:
            _write(root / person.sam, item, f"{seed}/{person.sam}", now)
            sample.files += 1
            sample.bytes += item.size
    return sample


def everyday_files(rng: random.Random) -> Iterator[SampleFile]:
    """What any home folder holds: work documents in nested folders, an appraisal, old rotas,
    a mail archive, photos, an installer, Office lock and temporary files, a copied report."""

    def recent() -> float:
        return rng.uniform(*RECENT_DAYS)

    def old() -> float:
        return rng.uniform(OLD_YEARS[0] * 365, OLD_YEARS[1] * 365)

    def kib(low: int, high: int) -> int:
        return rng.randint(low, high) * 1024

    report = SampleFile("Documents/Neighbourhood report.docx", kib(40, 120), recent())
    yield report
    yield SampleFile(
        "Desktop/Neighbourhood report (copy).docx",
        report.size,
        report.age_days,
        content=report.path,
    )
    for quarter in ("Q1", "Q2", "Q3"):
        yield SampleFile(
            f"Documents/Meetings/2025/{quarter}/Team minutes.docx", kib(8, 40), recent()
        )
    yield SampleFile("Documents/Meetings/2025/Q3/~$am minutes.docx", 162, 1)
    yield SampleFile("Documents/Meetings/~WRL0003.tmp", kib(1, 30), recent())
    yield text_file(
        "Documents/Meetings/desktop.ini", recent(), "[.ShellClassInfo]\r\nIconIndex=-235\r\n"
    )
    yield SampleFile("Documents/Projects/Safer Streets/Drafts/Bid v3.docx", kib(30, 200), recent())
    yield SampleFile("Documents/Projects/Safer Streets/Budget.xlsx", kib(20, 90), recent())
    yield text_file("Documents/Training/Custody refresher notes.txt", recent(), TRAINING)
    yield SampleFile("Documents/Appraisals/2025 appraisal.docx", kib(20, 60), recent())
    yield SampleFile("Documents/Appraisals/2017 appraisal.docx", kib(20, 60), old())
    for year in (2015, 2016, 2017):
        yield SampleFile(f"Documents/Rotas/Shift rota {year}.xlsx", kib(15, 40), old())
    yield SampleFile("Documents/Rotas/Shift rota 2026.xlsx", kib(15, 40), recent())
    yield SampleFile("Documents/Outlook/Archive 2019.pst", kib(1024, 3072), old() / 2)
    for number in range(1, rng.randint(3, 6)):
        yield SampleFile(f"Pictures/Leaving do/IMG_{4100 + number}.jpg", kib(200, 900), recent())
    yield SampleFile("Pictures/Leaving do/Thumbs.db", kib(8, 20), recent())
    yield SampleFile("Downloads/TeamViewer_Setup.exe", kib(2048, 4096), recent())
    yield text_file("Desktop/To do.txt", 1, "Return the radio to stores.\n")


TRAINING = (
    "Custody refresher, day 2\n\n"
    "- Detention clock starts at arrival at the station, not at arrest.\n"
    "- Reviews: first at 6 hours, then every 9 hours.\n"
)


def awkward_files(sample: Sample, person: Person) -> list[SampleFile]:
    """Names OneDrive refuses, two names that differ only in case, the longest path OneDrive
    takes and one character more, an Exhibits folder, a witness statement, and
    correspondence on hold for a subject access request."""
    refused = "Documents/Meetings/Minutes 10:30 briefing.docx"
    old = "Documents/Rotas/Shift rota 2015.xlsx"
    sample.renamed, sample.old = (person.upn, refused), (person.upn, old)
    sample.held = (person.upn, "Documents/Correspondence/**")
    longest, too_long = long_paths()
    return [
        SampleFile(refused, 24_576, 40),
        SampleFile('Documents/Meetings/Agenda "draft".docx', 18_432, 41),
        text_file("Documents/Meetings/Why? questions.txt", 42, "Why are the lockers shut?\n"),
        text_file("Documents/Meetings/<old> notes.txt", 43, "Superseded.\n"),
        SampleFile("Documents/Projects/Safer Streets/Bid final.", 30_720, 44),
        SampleFile("Documents/Projects/Ward plans /Ward 7.docx", 22_528, 45),
        SampleFile("Documents/Projects/Ward plans /WARD 7.docx", 22_600, 46),
        SampleFile(longest, 12_288, 47),
        SampleFile(too_long, 12_288, 48),
        SampleFile("Documents/Exhibits/JH-01 CCTV still.jpg", 350_000, 60),
        SampleFile("Documents/Exhibits/JH-02 exhibit label.docx", 14_336, 60),
        SampleFile("Documents/Statements/MG11 witness statement.docx", 28_672, 61),
        SampleFile("Documents/Correspondence/Letter to complainant.docx", 20_480, 90),
        SampleFile("Documents/Correspondence/Reply from complainant.pdf", 80_000, 80),
    ]


def long_paths() -> tuple[str, str]:
    """Two paths whose OneDrive paths (below the target folder) are exactly the 400 characters
    OneDrive allows and one more; no folder or file name is longer than Linux's 255 bytes."""
    folders = (
        "Documents/Force Policy Library/Operational Guidance Archive/"
        "Public Order and Public Safety/Mutual Aid Deployments/Regional Planning Group/"
        "Historic Versions for Reference Only/Superseded Drafts Awaiting Review/"
    )
    room = MAX_PATH_CHARACTERS - len(f"{DEFAULT_TARGET_FOLDER}/{folders}") - len(".docx")
    stem = ("Briefing note on the arrangements for cross-border mutual aid " * 5)[:room]
    longest = f"{folders}{stem}.docx"
    return longest, f"{folders}{stem}s.docx"


def large_files(index: int, movers: int) -> list[SampleFile]:
    """Three files of tens of MiB, shared out among the people who have a OneDrive, so the
    upload goes in chunks."""
    files = [
        SampleFile("Documents/Training/Custody induction.pptx", 26 * MIB, 200),
        SampleFile("Documents/Projects/Safer Streets/Site survey scans.pdf", 18 * MIB, 120),
        SampleFile("Documents/Training/Public order refresher.pptx", 14 * MIB, 300),
    ]
    return [file for number, file in enumerate(files) if number % movers == index]


def _write(home: Path, item: SampleFile, seed: str, now: float) -> None:
    """Write ITEM below HOME and set its times. Random content comes from SEED and the
    item's content key, so a copy gets the same bytes and a re-run the same share."""
    path = home / item.path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        if item.text is not None:
            out.write(item.text.encode())
        else:
            _write_random(out, item.size, random.Random(f"{seed}/{item.content or item.path}"))
    moment = now - item.age_days * DAY
    os.utime(path, (moment, moment))


def _write_random(out, size: int, rng: random.Random) -> None:
    # In pieces, so a large file is never held in memory whole.
    left = size
    while left:
        piece = min(left, 4 * MIB)
        out.write(rng.randbytes(piece))
        left -= piece
