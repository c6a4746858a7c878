"""Security headers on every response the portal does not already dress.

The portal sets its own strict policy (CSP without inline script, frame-ancestors 'none').
The admin is Flask-AppBuilder's, whose pages use inline scripts, so it gets what does not
break them: no MIME sniffing, no framing by other sites (clickjacking), and no full URLs in
the Referer header sent to other sites.
"""
from __future__ import annotations

from flask import Flask, Response

DEFAULTS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in DEFAULTS.items():
            response.headers.setdefault(name, value)
        return response
