"""`gunicorn bench.wsgi:app`: Clientela plus the bench's floor pages (bench/floor.py)."""
from bench.floor import create_app

app = create_app()
