from django.dispatch import Signal

# Sent after the transaction that changed a ticket commits.
# kwargs: ticket (Ticket), event (str: created, started, attempt_finished, completed,
# failed, merged, changes_requested, cancelled, requeued), data (dict).
ticket_event = Signal()
