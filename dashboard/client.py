"""The API over HTTP (httpx): sign-in, requests with the bearer token and stated purpose, plain errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# What a person is told for each kind of refusal, before the API's own detail.
PLAIN = {
    400: "The request was refused",
    401: "Your session has ended",
    403: "Not available to you",
    404: "Not found",
    409: "Already done",
    413: "Too much text",
    422: "Please check what you entered",
    429: "Too many requests",
    500: "Something went wrong on the server",
    503: "The directory is unavailable just now",
}
UNREACHABLE = "The directory's API cannot be reached just now. Try again in a moment; if it persists, tell support."


class ApiError(Exception):
    """A refusal or failure of the API, carrying its problem+json title and detail."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail

    @property
    def plain(self) -> str:
        """One sentence for a person: what kind of problem, and the API's explanation."""
        heading = PLAIN.get(self.status, self.title or "The request failed")
        return f"{heading}: {self.detail}" if self.detail and self.detail != heading else heading


class SignedOut(ApiError):
    """The token was refused (expired, revoked or the user changed): the user must sign in again."""


@dataclass(frozen=True)
class Token:
    """A bearer token and how many seconds it lasts."""

    access_token: str
    expires_in: int


def _problem(response: httpx.Response) -> ApiError:
    """The ApiError of a non-2xx response, read from problem+json where the API sent it."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    title = str(body.get("title") or response.reason_phrase or "Error")
    detail = body.get("detail")
    if not isinstance(detail, str):
        detail = title
    if response.status_code >= 500 and response.status_code != 503:
        detail = "the error has been logged; try again, and tell support if it happens again."
    kind = SignedOut if response.status_code == 401 else ApiError
    return kind(response.status_code, title, detail)


class ApiClient:
    """One signed-in (or not yet signed-in) user's view of the API."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 30,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.transport = transport

    def _send(self, method: str, path: str, *, purpose: str | None = None, accept: str = "application/json",
              **kwargs: Any) -> Any:
        headers = {"Accept": accept}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if purpose is not None:
            headers["X-Purpose"] = purpose
        try:
            # A merged directory id answers 308 to the child it was merged into: follow it (same origin).
            with httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=self.transport,
                              follow_redirects=True) as http:
                response = http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError:
            raise ApiError(503, "Service Unavailable", UNREACHABLE) from None
        if response.is_success:
            return response.text if accept == "text/html" else response.json()
        raise _problem(response)

    def sign_in(self, username: str, password: str, otp: str) -> Token:
        """Exchange password and TOTP code for a token (a refusal is SignedOut, 401)."""
        body = self._send("POST", "/auth/token", data={"username": username, "password": password, "otp": otp})
        return Token(access_token=body["access_token"], expires_in=int(body["expires_in"]))

    def get(self, path: str, *, purpose: str | None = None, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON document; `purpose` goes in X-Purpose (child data needs one)."""
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        return self._send("GET", path, purpose=purpose, params=clean)

    def get_html(self, path: str, *, purpose: str, params: dict[str, Any] | None = None) -> str:
        """GET a document the API renders as HTML (a chronology's export), as text."""
        return self._send("GET", path, purpose=purpose, accept="text/html", params=params or {})

    def post(self, path: str, *, purpose: str | None = None, json: dict[str, Any] | None = None) -> Any:
        """POST a JSON body."""
        return self._send("POST", path, purpose=purpose, json=json or {})

    def put(self, path: str, *, purpose: str | None = None, json: dict[str, Any] | None = None) -> Any:
        """PUT a JSON body (setting the lead professional)."""
        return self._send("PUT", path, purpose=purpose, json=json or {})

    def delete(self, path: str, *, purpose: str | None = None, json: dict[str, Any] | None = None) -> Any:
        """DELETE with a JSON body (lifting a shield carries its reason)."""
        return self._send("DELETE", path, purpose=purpose, json=json or {})
