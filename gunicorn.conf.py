"""gunicorn's settings for the clinic, read from the working directory (`gunicorn wsgi:app` run
from the repository, as the README, the benchmark and the browser tests do).

gunicorn writes `Server: gunicorn` itself, ahead of the application's headers, and has no setting
to leave it out, so its response class is given a header list without that line: the name of the
server software helps only someone looking for a known weakness in it.
"""

from __future__ import annotations

from collections.abc import Callable

from gunicorn.http import wsgi

HeaderLines = Callable[[wsgi.Response], list[str]]


def _without_server_header(default_headers: HeaderLines) -> HeaderLines:
    def headers(response: wsgi.Response) -> list[str]:
        return [
            line for line in default_headers(response) if not line.lower().startswith("server:")
        ]

    headers.__wrapped__ = default_headers  # type: ignore[attr-defined]
    return headers


# Once, however often the file is read (gunicorn reads it again on a reload).
if not hasattr(wsgi.Response.default_headers, "__wrapped__"):
    wsgi.Response.default_headers = _without_server_header(wsgi.Response.default_headers)
