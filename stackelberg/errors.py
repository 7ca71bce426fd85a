"""Errors with messages that name the fix. The CLI turns `UserInputError` into exit code 2."""


class UserInputError(ValueError):
    """Bad input from the user: unknown name, malformed config, impossible value."""


class NonFiniteError(RuntimeError):
    """NaN or inf appeared in training; the run stops, keeping its last good checkpoint."""
