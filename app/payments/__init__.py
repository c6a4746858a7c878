"""Online payments with Stripe Checkout: sessions we create, verified webhooks, refunds, reconciliation.

See docs/payments.md. `services` holds the rules (one fulfilment function for the webhook, the
success page and reconciliation); `webhooks` and `views` are thin HTTP layers over it.
"""
