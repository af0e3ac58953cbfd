"""One error hierarchy for the whole pipeline.

    DisclosureError                 root; the CLI catches only this (exit code on the class)
    +-- ConfigError                 the config file is wrong (exit 2): names file, key path, fix
    +-- InputError                  an input file cannot be read as its format (exit 2): file, row, fix
    +-- ValidationFailed            inputs were read but make the disclosure unreliable (exit 1)
    +-- OutputError                 the output directory cannot be written / is locked (exit 2)
    +-- WorkerFailed                a worker process reading input files died (killed by the system) (exit 3)

Anything else escaping the pipeline is a bug and exits 3 (internal error).
Every message says what is wrong, where (file, row or key path) and what to do next.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VALIDATION_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class DisclosureError(Exception):
    """Root of every error the user can cause. ``exit_code`` maps it to the documented exit codes."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 key: str | None = None, fix: str | None = None) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.key = key
        self.fix = fix
        super().__init__(self.render())

    def __reduce__(self):
        # a worker process's error reaches the main process pickled: keep file, row, key, fix and problems
        return (_rebuild, (type(self), dict(self.__dict__)))

    def render(self) -> str:
        text = self._headline()
        problems = getattr(self, "problems", None)
        if problems:
            text += "\n" + "\n".join(f"  - {p}" for p in problems)
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text

    def _headline(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.key:
            where.append(f"key '{self.key}'")
        return ": ".join([", ".join(where), self.message]) if where else self.message


def _rebuild(cls, state: dict) -> DisclosureError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error.render())
    return error


class ConfigError(DisclosureError):
    """The configuration file is missing, malformed or inconsistent."""


class InputError(DisclosureError):
    """An input file cannot be read as the format it is declared to be."""


class ValidationFailed(DisclosureError):
    """Inputs were read, but failures make the disclosure unreliable (required column missing,
    reporting period not covered, rows naming an unknown contract)."""

    exit_code = EXIT_VALIDATION_FAILED

    def __init__(self, message: str, *, problems: list[str] | None = None, **kw) -> None:
        self.problems = list(problems or [])
        super().__init__(message, **kw)


class OutputError(DisclosureError):
    """The output directory cannot be written (locked by another run, not a directory, ...)."""


class WorkerFailed(DisclosureError):
    """A worker process reading input files stopped unexpectedly (killed by the system, e.g. out of memory):
    not the user's input, but a message rather than a hang or a traceback."""

    exit_code = EXIT_INTERNAL
