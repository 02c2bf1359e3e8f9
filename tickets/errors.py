"""The tickets domain's own errors; the API turns each into an HTTP answer (tickets.api.exception_handler)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request body (HTTP 422)."""


class InvalidInput(Exception):
    """Input that breaks a rule of the domain (HTTP 400); `errors` maps field names to messages, nested for lists."""

    def __init__(self, errors: dict) -> None:
        self.errors = errors
        super().__init__(str(errors))
