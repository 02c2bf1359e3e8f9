"""Failures that are not the model's: they burn no model attempt and tell a person what to fix."""


class ProjectProblem(Exception):
    """The project or the machine must be fixed (clone, setup, sandbox, test command); the message says what."""


class TicketProblem(Exception):
    """The ticket must be fixed by its architect (its acceptance tests already pass on the base); no model is asked."""
