"""Graph error responses, shaped as the service shapes them."""

import json
import uuid
from datetime import UTC, datetime


class GraphError(Exception):
    """A refusal the tenant answers with a Graph error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        inner: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner
        self.headers = headers or {}

    def body(self) -> bytes:
        inner = {
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": str(uuid.uuid4()),
            "client-request-id": str(uuid.uuid4()),
        }
        if self.inner:
            inner["code"] = self.inner
        error = {"code": self.code, "message": self.message, "innerError": inner}
        return json.dumps({"error": error}).encode()


class SetupError(ValueError):
    """`tenant serve` cannot start as asked; the message names the file or option and the fix."""


def not_found(what: str = "The resource could not be found.") -> GraphError:
    return GraphError(404, "itemNotFound", what)


def bad_request(message: str, inner: str | None = None) -> GraphError:
    return GraphError(400, "invalidRequest", message, inner)


def name_exists(message: str = "The specified item name already exists.") -> GraphError:
    return GraphError(409, "nameAlreadyExists", message)
