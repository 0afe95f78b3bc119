"""The project's errors, and the one policy that decides which is raised where.

Policy:
1. Misuse of the Python API (a wrong type, a value out of range, a shape that does not fit) raises
   :class:`InvalidType` or :class:`InvalidArgument`. They are ``TypeError`` / ``ValueError``
   subclasses, so ``except ValueError`` keeps working, and the message says what was wrong and what
   to do instead.
2. A problem with the user's files, data or environment (a missing or damaged checkpoint, a
   download that failed, a folder that cannot be written) raises a :class:`UserError` subclass
   named after what went wrong (``CheckpointError``, ``DownloadError``, ...).

Every class here is a :class:`UserError`. The ``ddpm-edu`` command prints a UserError as one line
and exits with code 2; anything else (a ``TypeError`` from inside torch, an ``AssertionError``) is a
bug in the library and is shown as a bug, with its traceback, never disguised as a user mistake.
"""


class UserError(Exception):
    """Something the user gave (an argument, a file, a setting) is wrong; the message says the
    fix."""


class InvalidArgument(UserError, ValueError):
    """A value given to the API or the command line is out of range or malformed."""


class InvalidType(UserError, TypeError):
    """A value given to the API has the wrong type (e.g. a list where a tensor is needed)."""


class MissingFile(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class NotWritable(UserError, OSError):
    """A file or folder the user named cannot be created or written (no permission, a file where a
    folder should be, a read-only or full disk)."""
