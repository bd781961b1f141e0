"""The errors a desk reports to a person: each carries one line that says what is wrong and what to do."""


class DeskError(Exception):
    """A problem the person at the desk can act on; its message is shown as one line."""


class MasterKeyError(DeskError):
    """The master key is missing, wrong or unsafe to use."""


class TamperError(DeskError):
    """Stored ciphertext or a stored hash did not authenticate: data was altered or moved."""


class AccessDenied(DeskError):
    """The acting user's role does not allow this action; a role refusal names who tried what, for the audit trail."""

    def __init__(self, message: str, *, actor=None, attempted: str = "", needs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.actor = actor
        self.attempted = attempted
        self.needs = needs
