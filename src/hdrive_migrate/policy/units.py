"""Sizes and ages as records managers write them.

Sizes are binary, as Windows Explorer and OneDrive count them: 1KB = 1KiB = 1,024 bytes,
1MB = 1,048,576 bytes, and so on to TB; a bare number is bytes. Fractions are allowed when
they make whole bytes (1.5KB = 1,536).

Ages are a whole number of days (d), weeks (w, 7 days), months (m) or years (y). Months and
years are calendar ones: 6y before 2026-03-15 is 2020-03-15, and 1m before 2026-03-31 is
2026-02-28 (the day is clamped to the month's end). An age is measured back from midnight UTC
at the start of the reference date.
"""

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

SIZE_UNITS = {
    "": 0,
    "b": 0,
    "kb": 1,
    "kib": 1,
    "mb": 2,
    "mib": 2,
    "gb": 3,
    "gib": 3,
    "tb": 4,
    "tib": 4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)
_AGE = re.compile(r"(\d+)\s*([dwmy])", re.IGNORECASE)
SIZE_EXAMPLE = "1MB, 500KB, 2.5GB or 0B"
AGE_EXAMPLE = "90d, 2w, 18m or 6y"
EARLIEST_DAY = date(1900, 1, 1)
"""The earliest date a policy, a cases file or a plan may measure ages from: ages reach back
up to 1,000 years, and the dates they reach must stay within the calendar."""


def parse_size(text: str) -> int | None:
    """Bytes in TEXT such as 1MB, 1.5 KiB or 2048; None when TEXT is not a whole-byte size."""
    found = _SIZE.fullmatch(text.strip())
    if not found or found.group(2).lower() not in SIZE_UNITS:
        return None
    number = Decimal(found.group(1)) * 1024 ** SIZE_UNITS[found.group(2).lower()]
    return int(number) if number == number.to_integral_value() else None


class Age(NamedTuple):
    """A span of time back from a reference date: COUNT units of d, w, m or y."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def before(self, day: date) -> date:
        """The date this age before DAY, in calendar months and years."""
        if self.unit in "dw":
            return day - timedelta(days=self.count * (7 if self.unit == "w" else 1))
        months = day.year * 12 + day.month - 1 - self.count * (12 if self.unit == "y" else 1)
        year, month = divmod(months, 12)
        last_day = calendar.monthrange(year, month + 1)[1]
        return date(year, month + 1, min(day.day, last_day))

    def cutoff(self, as_of: date) -> float:
        """POSIX seconds at midnight UTC of the date this age before AS_OF."""
        return midnight_utc(self.before(as_of))

    def span(self) -> tuple[str, int]:
        """('months', n) or ('days', n): two ages of the same kind compare exactly, whatever
        the reference date; a month and a number of days do not."""
        if self.unit in "my":
            return "months", self.count * (12 if self.unit == "y" else 1)
        return "days", self.count * (7 if self.unit == "w" else 1)


def parse_age(text: str) -> Age | None:
    """The age in TEXT such as 6y or 90d, up to 1,000 years; None when TEXT is not one."""
    found = _AGE.fullmatch(text.strip())
    if not found:
        return None
    age = Age(int(found.group(1)), found.group(2).lower())
    kind, count = age.span()
    return age if count <= (12_000 if kind == "months" else 365_000) else None


def midnight_utc(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
