"""The one error type for invalid user input, shared by every layer."""

from __future__ import annotations

MAX_ECHO = 200
"""Longest echo of a rejected value in an error message (longer values are cut with '…')."""


class InvalidParameter(ValueError):
    """A query or spec parameter has a value we cannot use.

    Carries the parameter's name, the offending value and a description of what is
    accepted, so that the API can answer a 400 and the CLI can print one clear line.
    """

    def __init__(self, parameter: str, value: object, accepted: str) -> None:
        self.parameter = parameter
        self.value = value
        self.accepted = accepted
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One human-readable sentence naming the parameter, the value and what is accepted."""
        shown = repr(self.value)
        if len(shown) > MAX_ECHO:
            shown = shown[:MAX_ECHO] + "…"
        return f"invalid '{self.parameter}' parameter: {shown}; accepted: {self.accepted}"


class SourceUnavailable(RuntimeError):
    """A cluster-data source (Prometheus, …) failed to answer; the API maps it to a 503."""

    def __init__(self, reason: str, *, retry_after_seconds: int = 30) -> None:
        self.reason = reason
        self.retry_after_seconds = retry_after_seconds
        super().__init__(reason)


class NoData(SourceUnavailable):
    """The source answered, but holds no data for the window (before its history, a gap).

    Still a 503 / exit 3 when nothing else answers; a ledger in front of the source uses it
    to tell "nothing there" (declare the coverage) from "down" (warn or fail).
    """
