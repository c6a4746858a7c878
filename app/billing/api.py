"""REST API for invoices, quotes and payments."""


def register(appbuilder) -> None:
    return None
