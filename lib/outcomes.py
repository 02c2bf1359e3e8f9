"""What an attempt came to: the one list of outcome names, used by the agent's loop, the models and the metrics."""
from enum import StrEnum


class Outcome(StrEnum):
    RUNNING = "running"
    PASSED = "passed"
    TESTS_FAILED = "tests_failed"
    APPLY_FAILED = "apply_failed"
    SYNTAX_FAILED = "syntax_failed"
    TIMEOUT = "timeout"
    MODEL_ERROR = "model_error"
    ERROR = "error"
    INTERRUPTED = "interrupted"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    Outcome.RUNNING: "Running",
    Outcome.PASSED: "Tests passed",
    Outcome.TESTS_FAILED: "Tests failed",
    Outcome.APPLY_FAILED: "Edits did not apply",
    Outcome.SYNTAX_FAILED: "Syntax error",
    Outcome.TIMEOUT: "Tests timed out",
    Outcome.MODEL_ERROR: "Model unreachable or failed",
    Outcome.ERROR: "Infrastructure error",
    Outcome.INTERRUPTED: "Interrupted (the worker stopped)",
}
CHOICES = [(outcome.value, outcome.label) for outcome in Outcome]
# The answer reached the test run (whatever the tests then said).
REACHED_TESTS = (Outcome.PASSED, Outcome.TESTS_FAILED, Outcome.TIMEOUT)
