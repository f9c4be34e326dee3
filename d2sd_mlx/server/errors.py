"""The one exception the server turns into an OpenAI-shaped error response."""

from __future__ import annotations


class APIError(Exception):
    """An HTTP error with OpenAI's error object: {"error": {"message", "type", "param", "code"}}.

    `param` names the request field at fault (None when no one field is); `headers` are extra
    response headers (Retry-After for a full queue).
    """

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type
        self.headers = dict(headers or {})

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param, code)
