"""The client portal: magic-link sign-in, statement, invoices, quotes, bulk PDF download."""
from flask import Flask


def init_app(app: Flask) -> None:
    """The portal's blueprint, and its sign-in links for the emails mail sends."""
    from app.mail.links import use_sign_in_links
    from app.portal import auth_views, document_views  # noqa: F401  (their routes join the blueprint)
    from app.portal.tokens import issue_sign_in_link
    from app.portal.views import bp

    app.register_blueprint(bp)
    use_sign_in_links(app, issue_sign_in_link)
