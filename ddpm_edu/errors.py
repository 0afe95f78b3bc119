"""Errors the user can act on. The CLI prints them as one line (exit code 2), never a traceback."""


class UserError(Exception):
    """Something the user gave (an argument, a file, a setting) is wrong; the message says the fix."""
