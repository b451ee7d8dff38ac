"""The error types users see: a one-line message naming the bad value, the allowed ones, what to run.

Every one is a `BayesTDAError` (scripts print its message on one line and exit with status 2); the subclasses
say what kind of problem it is, so that code asks `isinstance`, never compares message strings.
"""


class BayesTDAError(Exception):
    """A user-facing error; scripts print its message on one line and exit with status 2."""


class BadInput(BayesTDAError):
    """A flag, argument or setting outside what is allowed."""


class MissingOutput(BayesTDAError):
    """A file that a step needs does not exist yet (the message names the command that makes it)."""


class UnrecordedOutput(BayesTDAError):
    """A file without a provenance record (written by bayestda 0.1, or cut short before its record)."""


class CorruptOutput(BayesTDAError):
    """A file that cannot be read, was changed since it was written, or sits where it does not belong."""


class StaleOutput(BayesTDAError):
    """A file made from other inputs than those on disk now (e.g. a retrained checkpoint)."""
