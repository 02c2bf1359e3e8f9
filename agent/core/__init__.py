"""The implementer's Django-free core: the loop, the model interface, answers turned into edits, the workspace."""
