"""What the tickets app announces; the apps above it subscribe (tickets never imports them).

ticket_event and review_comment are sent after the transaction that caused them commits. ticket_runnable is
sent inside it: a receiver that writes to the database (the agent's queue entry, with django-q2's ORM broker)
commits with the ticket, or not at all; a receiver acting outside the database defers to transaction.on_commit.
"""
from django.dispatch import Signal

# A ticket changed. kwargs: ticket (Ticket), event (str: created, started, attempt_finished, completed,
# failed, merged, changes_requested, cancelled, requeued), data (dict), from_state (the state it left, or "").
# Webhooks, the agent and tickets.repos (which recycles a merged or cancelled ticket's worktree) listen.
ticket_event = Signal()

# A ticket may be run now (created, sent back, or its last dependency merged). kwargs: ticket_id (str),
# new (bool: created in this transaction, so certainly not queued yet). The agent app queues its run.
ticket_runnable = Signal()

# A reviewer sent a ticket back with a comment. kwargs: ticket (Ticket), comment (str), reviewer (str).
# The shared memory keeps it as a lesson.
review_comment = Signal()
