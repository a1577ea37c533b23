"""Stopping the worker promptly: long work (analysing a video, making its published copy) checks
at each step whether the worker was asked to stop, and whether its file still exists.

Both are BaseExceptions, like KeyboardInterrupt: a step that records its own failures (`except
Exception`) must not record "the worker stopped" as the file's fault.
"""

import threading


class Interrupted(BaseException):
    """The worker is stopping: the work goes back to the queue, for the next worker."""


class Gone(BaseException):
    """The file was removed from its draft while it was being worked on: nothing more to do."""


# Set when the worker is asked to stop (SIGTERM, Ctrl+C).
requested = threading.Event()


def check() -> None:
    if requested.is_set():
        raise Interrupted("the worker is stopping")
