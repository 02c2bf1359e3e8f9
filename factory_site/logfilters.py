"""Keep the console to one line per state change (see LOGGING in settings).

django-q2 logs every task it takes, finishes or creates from a schedule at INFO, and every
process of a cluster announces itself: a dozen lines a minute with nothing happening. Only
its "Q Cluster <name> starting / running / stopping / has stopped" lines, and anything at
WARNING or above, say something changed. FACTORY_LOG_LEVEL=DEBUG shows everything.
"""
import logging


class QueueStateChanges(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or logging.getLogger().isEnabledFor(logging.DEBUG):
            return True
        return str(record.msg).startswith("Q Cluster ")
