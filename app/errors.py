"""The exceptions a business rule raises when it refuses a change."""
from __future__ import annotations

from typing import Mapping


class Refusal(ValueError):
    """A rule refused the change; `field` names the input it concerns, so forms show the
    message at that field and the API answers 422 under that name (`_schema` for none)."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        return {self.field or "_schema": str(self.message)}


class FieldRefusals(Refusal):
    """Several field errors at once (a form with many fields); the first one is the message."""

    def __init__(self, errors: Mapping[str, object]):
        super().__init__(next(iter(errors.values())), next(iter(errors)))
        self.errors = dict(errors)

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.errors.items()}
