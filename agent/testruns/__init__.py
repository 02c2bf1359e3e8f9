"""Running a project's commands: the sandbox, its caps, test runs, their reports and parsers, the baseline."""
