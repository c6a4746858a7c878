"""`GET /healthz`: the load balancer's probe; checks the database answers."""
from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import csrf, db

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")
