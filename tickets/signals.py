"""What the tickets app announces; the apps above it subscribe (tickets never imports them).

Every signal is sent after the transaction that caused it commits.
"""
from django.dispatch import Signal

# A ticket changed. kwargs: ticket (Ticket), event (str: created, started, attempt_finished, completed,
# failed, merged, changes_requested, cancelled, requeued), data (dict), from_state (the state it left, or "").
# Webhooks and the agent listen.
ticket_event = Signal()

# A ticket may be run now (created, sent back, or its last dependency merged). kwargs: ticket_id (str).
# The agent app queues its run.
ticket_runnable = Signal()

# A reviewer sent a ticket back with a comment. kwargs: ticket (Ticket), comment (str), reviewer (str).
# The shared memory keeps it as a lesson.
review_comment = Signal()
