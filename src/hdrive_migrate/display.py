"""How numbers are shown to people, the same in every command: sizes in binary units (as the
policy reads them and OneDrive counts quota) and counts with their noun in the right number."""

SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size_text(size: int) -> str:
    """SIZE bytes as people read it: 512 B, 1.5 KiB, 3.0 GiB (1 KiB = 1,024 bytes)."""
    value, unit = float(size), 0
    # Rounded before comparing, so 1,048,575 bytes is 1.0 MiB rather than 1024.0 KiB.
    while round(value, 1) >= 1024 and unit < len(SIZE_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{size:,} B" if unit == 0 else f"{value:,.1f} {SIZE_UNITS[unit]}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """COUNT with NOUN in the right number: 1 file, 2 files, 1,234 files; PLURAL when adding
    an s is wrong (1 person, 2 people)."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
