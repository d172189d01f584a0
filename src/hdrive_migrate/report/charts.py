"""The geometry of summary.html's charts, drawn by the template as inline SVG: pure functions
from counts to coordinates, so a chart is tested without a browser and the page fetches
nothing."""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from hdrive_migrate.report.tally import Timeline

BAR_WIDTH = 360  # pixels for the largest bar
ROW_HEIGHT = 22
PLOT_WIDTH, PLOT_HEIGHT = 640, 160
MAX_BUCKETS = 60
# Bucket widths in minutes, smallest first: the smallest giving at most MAX_BUCKETS is used.
BUCKET_MINUTES = (1, 5, 15, 60, 360, 1440, 10080)


class Bar(NamedTuple):
    label: str
    text: str  # the value as people read it
    y: float
    width: float


class BarChart(NamedTuple):
    bars: list[Bar]
    height: int
    bar_width: int = BAR_WIDTH
    row_height: int = ROW_HEIGHT


def bar_chart(entries: Sequence[tuple[str, int]], text: Callable[[int], str]) -> BarChart:
    """Horizontal bars, one per (label, value) in ENTRIES, the largest BAR_WIDTH wide; TEXT
    shows a value."""
    top = max((value for _, value in entries), default=0) or 1
    bars = [
        Bar(label, text(value), index * ROW_HEIGHT, round(BAR_WIDTH * value / top, 1))
        for index, (label, value) in enumerate(entries)
    ]
    return BarChart(bars, len(bars) * ROW_HEIGHT)


class Column(NamedTuple):
    x: float
    y: float
    width: float
    height: float
    title: str  # shown on hover: the bucket and its value


class TimeChart(NamedTuple):
    """Progress (cumulative files, a line) and throughput (bytes per second, columns) over
    time, on one time axis of equal buckets."""

    start: str
    end: str
    bucket: str  # the bucket width, e.g. "15 minutes"
    progress: str  # SVG polyline points
    files: int  # cumulative files at the end
    columns: list[Column]
    peak: str  # the highest throughput, as people read it
    width: int = PLOT_WIDTH
    height: int = PLOT_HEIGHT


def time_chart(timeline: Timeline, rate_text: Callable[[float], str]) -> TimeChart | None:
    """TIMELINE in at most MAX_BUCKETS equal buckets; None when nothing has finished yet.
    RATE_TEXT shows bytes per second."""
    if not timeline.files:
        return None
    minutes = sorted(timeline.files)
    start, end = _minute(minutes[0]), _minute(minutes[-1])
    span = int((end - start).total_seconds() // 60) + 1
    width = next((w for w in BUCKET_MINUTES if span / w <= MAX_BUCKETS), BUCKET_MINUTES[-1])
    count = -(-span // width)
    files, sent = [0] * count, [0] * count
    for minute in minutes:
        index = int((_minute(minute) - start).total_seconds() // 60) // width
        files[index] += timeline.files[minute]
        sent[index] += timeline.bytes[minute]
    rates = [value / (width * 60) for value in sent]
    return TimeChart(
        start=start.strftime("%Y-%m-%d %H:%M"),
        end=(start + timedelta(minutes=count * width)).strftime("%Y-%m-%d %H:%M"),
        bucket=_bucket_text(width),
        progress=_progress_points(files),
        files=sum(files),
        columns=_columns(rates, start, width, rate_text),
        peak=rate_text(max(rates)),
    )


def _minute(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M")


def _progress_points(files: list[int]) -> str:
    total, top, step = 0, sum(files) or 1, PLOT_WIDTH / len(files)
    points = [f"0,{PLOT_HEIGHT}"]
    for index, count in enumerate(files):
        total += count
        points.append(f"{round(step * (index + 1), 1)},{round(PLOT_HEIGHT * (1 - total / top), 1)}")
    return " ".join(points)


def _columns(
    rates: list[float], start: datetime, width: int, rate_text: Callable[[float], str]
) -> list[Column]:
    top, step = max(rates) or 1, PLOT_WIDTH / len(rates)
    columns = []
    for index, rate in enumerate(rates):
        height = round(PLOT_HEIGHT * rate / top, 1)
        moment = (start + timedelta(minutes=index * width)).strftime("%Y-%m-%d %H:%M")
        columns.append(
            Column(
                round(step * index, 1),
                round(PLOT_HEIGHT - height, 1),
                round(max(step - 1, 0.5), 1),
                height,
                f"{moment}: {rate_text(rate)}",
            )
        )
    return columns


def _bucket_text(minutes: int) -> str:
    for size, unit in ((10080, "week"), (1440, "day"), (60, "hour")):
        if minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
