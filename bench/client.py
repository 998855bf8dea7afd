"""Signing in over HTTP and reading forms out of pages, with the standard library only."""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Flask-Login's "strong" session protection ties the cookie to the client's address and
# User-Agent: wrk must send exactly the agent that signed in, or every request is signed out.
USER_AGENT = "clinic-bench/1"
SESSION_COOKIE = "clinic_session"


@dataclass
class HtmlForm:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Every <form> with the value each control would submit untouched (first option if none)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[HtmlForm] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(HtmlForm(attr.get("action", ""), attr.get("method", "get").lower()))
        if not self.forms:
            return
        fields = self.forms[-1].fields
        name = attr.get("name")
        if tag == "input" and name:
            if attr.get("type") in ("checkbox", "radio") and "checked" not in attr:
                return
            if attr.get("type") in ("submit", "button"):
                return
            fields[name] = attr.get("value", "")
        elif tag == "select" and name:
            self._select, self._select_first = name, None
        elif tag == "option" and self._select:
            value = attr.get("value", "")
            if self._select_first is None:
                self._select_first = value
                fields.setdefault(self._select, value)
            if "selected" in attr:
                fields[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea and self.forms:
            self.forms[-1].fields[self._textarea] += data


def parse_forms(html: str) -> list[HtmlForm]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_with_field(html: str, field_name: str) -> HtmlForm | None:
    """The first form with that field, prefixed or not (WTForms prefixes are `prefix-name`)."""
    for form in parse_forms(html):
        if any(name == field_name or name.endswith(f"-{field_name}") for name in form.fields):
            return form
    return None


class Browser:
    """A cookie-keeping client for the few requests the benchmark makes outside wrk."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def get(self, path: str) -> tuple[int, str]:
        with self.opener.open(self.base_url + path, timeout=60) as response:
            return response.status, response.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str, str]:
        """POST a form; redirects are followed. Returns the status, final URL and body."""
        body = urllib.parse.urlencode(fields).encode()
        with self.opener.open(self.base_url + path, data=body, timeout=60) as response:
            return response.status, response.url, response.read().decode()

    def sign_in(self, username: str, password: str) -> None:
        _, page = self.get("/login")
        form = form_with_field(page, "csrf_token")
        if form is None:
            raise RuntimeError("no CSRF token on the sign-in page")
        fields = {**form.fields, "username": username, "password": password}
        _, final_url, _ = self.post("/login", fields)
        if urllib.parse.urlsplit(final_url).path in ("/login", "/password"):
            raise RuntimeError(f"signing in as {username} failed (ended on {final_url})")

    def search_fields(self, text: str) -> dict[str, str]:
        """The body of a patient search (its CSRF token included): the app keeps no search, so
        each request of the load posts it."""
        _, page = self.get("/patients/")
        form = form_with_field(page, "q")
        if form is None:
            raise RuntimeError("no search form on /patients/")
        return {**form.fields, "q": text}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies if c.name == SESSION_COOKIE)
