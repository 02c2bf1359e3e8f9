"""The tickets domain's own errors; the API turns each into an HTTP answer (tickets.api.exception_handler)."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request body (HTTP 422)."""


class InvalidInput(Exception):
    """Input that breaks a rule of the domain (HTTP 400); `errors` maps field names to messages, nested for lists."""

    def __init__(self, errors: dict) -> None:
        self.errors = errors
        super().__init__(str(errors))


# The answer of the API and of the pages while PostgreSQL is away (a restart, a failover): 503, not 500.
DATABASE_UNAVAILABLE = ("The database is unavailable right now (restarting or unreachable), so this request was not "
                        "completed; try again in a minute. An approve cut off this way after its merge was pushed is "
                        "recorded as merged by itself once the database is back: nothing is merged twice.")
DATABASE_RETRY_AFTER_S = 30
