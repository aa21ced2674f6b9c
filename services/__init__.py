"""Event transport and the reminder, recurrence and audit services; they depend on `domain` only."""
