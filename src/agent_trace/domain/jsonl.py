"""JSON Lines framing shared by the importer, the collector and the hook handler (stdlib only).

A transcript's last line may be complete JSON without its trailing newline: Claude Code may never
write that newline (the session ended), so waiting for it would lose the record forever. A tail
that parses as one JSON object is complete (an object cannot be extended into a longer valid
object), so it is read now; when the newline arrives later, the reader sees only an empty line.
"""

from __future__ import annotations

import json


def is_complete_record(tail: bytes) -> bool:
    """Whether `tail` (bytes after the last newline of a file) is one whole JSON object."""
    text = tail.strip()
    if not text.startswith(b"{") or not text.endswith(b"}"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
