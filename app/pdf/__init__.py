"""Invoice and quote PDFs (wkhtmltopdf), cached per document version."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Render each finalized document's PDF in a job, and serve billing's PDF downloads."""
    from app.billing.printing import use_renderer
    from app.billing.signals import document_finalized
    from app.pdf import service

    document_finalized.connect(service.render_finalized_document)
    use_renderer(app, service)
