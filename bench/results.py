"""bench/RESULTS.md is shared: each benchmark script replaces only its own ``## <section>``."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, body: str) -> None:
    """Replace (or append) ``## {section}`` up to the next ``## `` heading with ``body``."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is written by its own benchmark script.\n"
    header = f"## {section}"
    if header in text:
        before, rest = text.split(header, 1)
        after = rest.split("\n## ", 1)
        text = before + body + ("\n## " + after[1] if len(after) > 1 else "")
    else:
        text = text.rstrip() + "\n\n" + body
    RESULTS.write_text(text.rstrip() + "\n")
