"""Domain errors. Handlers map each one to an HTTP-like status code."""


class InventoryError(Exception):
    """Base class for every error raised by the inventory package."""


class ValidationError(InventoryError):
    """Input is malformed or breaks a business rule (status 400)."""


class NotFoundError(InventoryError):
    """A referenced entity does not exist (status 404)."""


class OutOfStockError(InventoryError):
    """Not enough available units to satisfy a request (status 409)."""
