"""Errors a person sees: one line, what happened and what to do."""


class UserError(Exception):
    """Bad input or a state of the world the user can fix; printed as one line, exit code 2."""

    exit_code = 2
