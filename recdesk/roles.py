"""Who may do what: the desk's three roles, and the roles that may change records (supervisors only look)."""

ROLES = ("clerk", "supervisor", "manager")
CHANGERS = ("clerk", "manager")  # supervisors review, never change: their database connection is read-only too
MANAGERS = ("manager",)
