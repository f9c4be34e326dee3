"""The one exception type users see for bad input."""


class D2SDError(ValueError):
    """Bad input: a model, drafter, option or prompt that cannot be used. The message names the problem."""
