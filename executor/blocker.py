"""The value a node returns (whole, or per output) to stop everything downstream from running."""


class ExecutionBlocker:
    """Consumers receiving this value do not run and pass it on; a message is reported once as an error."""

    def __init__(self, message: str | None):
        self.message = message

    def __repr__(self) -> str:
        return f"ExecutionBlocker({self.message!r})"
