"""The one error type users see: a one-line message naming the bad value, the allowed ones, what to run."""


class BayesTDAError(Exception):
    """A user-facing error; scripts print its message on one line and exit with status 2."""
