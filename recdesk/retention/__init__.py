"""Retention: the schedules a chart is kept by, the worklist of charts due for destruction, and legal holds."""
