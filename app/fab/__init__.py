"""Flask-AppBuilder, as Clientela uses it: the project's bases for admin views and REST APIs
(base.py), FAB's own security views and APIs put on those bases (security.py), and the few
corrections FAB 5.3.0 still needs, each naming its upstream issue (workarounds.py)."""
