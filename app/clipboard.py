"""Copy text: OSC 52 through the terminal, plus `pbcopy` (macOS Terminal ignores OSC 52)."""

from __future__ import annotations

import shutil
import subprocess
import sys


def copy(app, text: str) -> str:
    """Copy `text`; returns how (for the notification)."""
    app.copy_to_clipboard(text)  # OSC 52
    tool = shutil.which("pbcopy") if sys.platform == "darwin" else None
    if tool:
        try:
            subprocess.run([tool], input=text.encode("utf-8"), check=True, timeout=5)
            return "pbcopy"
        except (OSError, subprocess.SubprocessError):
            pass
    return "OSC 52"


def last_code_block(markdown: str) -> str | None:
    """The body of the last fenced code block in `markdown`, if any."""
    blocks, current, fence = [], None, ""
    for line in markdown.splitlines():
        stripped = line.strip()
        if current is None and stripped.startswith(("```", "~~~")):
            fence, current = stripped[:3], []
        elif current is not None and stripped.startswith(fence):
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks[-1] if blocks else None
