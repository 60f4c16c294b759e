"""Files that hold secrets (keys, tokens, passwords): readable by their owner alone from the
moment they exist, never for an instant by others, whatever the umask."""

import os
from pathlib import Path


def write_private_file(path: Path, content: str) -> None:
    """Writes `content` to `path` (made or replaced whole) with mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as made:
        made.write(content)
    partial.replace(path)
