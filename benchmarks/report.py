"""How every benchmark script shows its results: a Markdown table, printed and kept in results/."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

RESULTS_DIR = Path(__file__).parent / "results"


def publish(
    name: str,
    intro: Sequence[str],
    columns: Sequence[str],
    aligns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    footer: Sequence[str] = (),
    write: bool = True,
) -> str:
    """Print the table (``aligns``: ``"---"`` or ``"---:"`` per column) and, unless ``write`` is
    false, save it as ``results/{name}.md``; returns the text."""
    lines = [*intro, "", "| " + " | ".join(columns) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    if footer:
        lines += ["", *footer]
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{name}.md").write_text(text)
    return text
