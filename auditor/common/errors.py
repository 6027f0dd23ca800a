"""Errors a user can act on. The CLI turns them into one line and an exit code."""


class AuditorError(Exception):
    """Bad usage or bad input: one line, exit code 2."""

    exit_code = 2


class InputError(AuditorError):
    """An input file cannot be read. The message names the file and the position."""

    def __init__(self, file: str, problem: str):
        self.file = file
        self.problem = problem
        super().__init__(f"{file}: {problem}")


class UnsoundDocument(AuditorError):
    """A bug: the tool was about to write a document its own readers would refuse. Nothing is
    written; the message names the field, never its content."""

    exit_code = 3

    def __init__(self, problem: str):
        super().__init__(f"internal error: the results would not read back ({problem}); nothing was written")
