"""Business rules. Services raise errors from inventory.errors; they never return status codes."""
