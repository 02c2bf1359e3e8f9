"""Pure helpers at the bottom of the factory: git, diff rendering, charts, path rules, shared names.

Nothing here imports a Django app of the factory (an import-linter contract checks it).
"""
