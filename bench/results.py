"""bench/RESULTS.md is shared: each benchmark script replaces only its own ``## <section>``."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# Notes written by hand inside a section (what a session measured beside the script's run) sit
# between these two lines and are kept when the script rewrites the section.
NOTES_START, NOTES_END = "<!-- notes: kept when the section is rewritten -->", "<!-- end of notes -->"


def write_section(section: str, body: str) -> None:
    """Replace (or append) ``## {section}`` up to the next ``## `` heading with ``body``, keeping
    the section's hand-written notes (between NOTES_START and NOTES_END) after it."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\nEach section is written by its own benchmark script.\n"
    header = f"## {section}"
    if header in text:
        before, rest = text.split(header, 1)
        after = rest.split("\n## ", 1)
        old = after[0]
        if NOTES_START in old and NOTES_END in old:
            notes = old[old.index(NOTES_START):old.index(NOTES_END) + len(NOTES_END)]
            body = body.rstrip() + "\n\n" + notes + "\n"
        text = before + body + ("\n## " + after[1] if len(after) > 1 else "")
    else:
        text = text.rstrip() + "\n\n" + body
    RESULTS.write_text(text.rstrip() + "\n")
