# This directory is benchmark data, not part of the factory's own test suite: the project
# under repo/ and the hidden tests only import inside a worktree built by the harness or
# by verify.py, so a pytest run from the factory's root must not collect them.
collect_ignore = ["repo", "hidden", "solutions", "verify.py"]
