"""The worker side: running a ticket end to end, heartbeats, queueing, recovery, worktrees."""
