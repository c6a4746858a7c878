"""Entry point by path: `python app.py` serves the development server.

`flask --app app …` and `gunicorn app:app` resolve to the `app` package, whose
module-level `app` attribute is built on first use (see app/__init__.py).
"""
from app import create_app

if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=5000)
