"""Errors a person can act on: what went wrong, where, and how to fix it."""


class HdriveError(Exception):
    """A failure the user can fix; everything user-facing raises a subclass.

    `str()` is one line, `"{where}: {what}. Fix: {fix}"` (without `where: ` when it is None),
    so the command line can print it as it stands.
    """

    def __init__(self, what: str, *, fix: str, where: str | None = None) -> None:
        self.what = what.rstrip(".")
        self.fix = fix
        self.where = where
        super().__init__(self.__str__())

    def __str__(self) -> str:
        line = f"{self.what}. Fix: {self.fix}"
        if self.where is not None:
            line = f"{self.where}: {line}"
        # A message is printed as a single line; values quoted from files may hold newlines.
        return " ".join(line.splitlines())


class ConfigError(HdriveError):
    """hdrive.toml or the environment it relies on is missing or wrong.

    `setting` names the offending key as "section.key" when there is one, so a command that
    took the value from an option can point at that option instead.
    """

    def __init__(
        self, what: str, *, fix: str, where: str | None = None, setting: str | None = None
    ) -> None:
        super().__init__(what, fix=fix, where=where)
        self.setting = setting


class WorkspaceError(HdriveError):
    """The workspace directory or its database cannot be used."""
