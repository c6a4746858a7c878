"""REST API for clients: /api/v1/client/."""


def register(appbuilder) -> None:
    return None
