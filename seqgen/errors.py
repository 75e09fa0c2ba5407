"""The one exception type the library raises for problems a user can fix."""


class SeqgenError(Exception):
    """A user-facing failure: bad input, missing file, unusable checkpoint.

    The message is one line a person can act on; the CLI prints it as ``Error: ...`` and exits 1,
    so library code raises this instead of letting a KeyError or OSError escape as a traceback.
    """
