"""The one error the importers raise: a bad input, named by file, line and what was expected.

Every parser turns anything it cannot read into `ImportFileError`; no other exception escapes
(the fuzz tests in tests/importers check that).
"""

from __future__ import annotations


class ImportFileError(ValueError):
    """A file that cannot be imported: which file, which line (1-based, or None), what was expected."""

    def __init__(
        self, file: str, line: int | None, expected: str, found: str | None = None
    ) -> None:
        self.file = file
        self.line = line
        self.expected = expected
        # Only a short excerpt: the message is shown to users and stored in API errors.
        self.found = None if found is None else _excerpt(found)
        super().__init__(self.message())

    def message(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: expected {self.expected}"
        if self.found is not None:
            text += f"; found {self.found!r}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "expected": self.expected,
            "found": self.found,
            "message": self.message(),
        }


def _excerpt(text: str, limit: int = 120) -> str:
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 3] + "..."
