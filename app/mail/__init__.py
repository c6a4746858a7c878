"""Email: templates (global and per client), the outbox, the send job and overdue reminders."""
