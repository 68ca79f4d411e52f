"""A stand-in for the person's web browser in sign-in tests.

It does what a browser would with the demo instance's authorize page: load it, submit its form
with "Authorize" or "Deny" without following the redirect, then visit the ``Location`` (the
app's loopback catcher). For the out-of-band flow it reads the code off the result page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")


class Browser:
    """Approves (or denies) an authorize URL; records what it visited."""

    def __init__(
        self,
        decision: str = "approve",
        *,
        tamper: Callable[[str], str] | None = None,
        opens: bool = True,
    ) -> None:
        self.decision = decision
        self.tamper = tamper  # rewrites the redirect Location before it is visited
        self.opens = opens  # False: like a desktop with no browser to open
        self.visited: list[str] = []
        self.landing: requests.Response | None = None

    def _submit(self, session: requests.Session, url: str) -> requests.Response:
        page = session.get(url, timeout=5)
        page.raise_for_status()
        form = _FormParser()
        form.feed(page.text)
        fields = dict(form.fields, decision=self.decision)
        return session.post(
            urljoin(url, form.action), data=fields, allow_redirects=False, timeout=5
        )

    def __call__(self, url: str) -> bool:
        """The ``open_url`` callback: approve in the "browser", land on the redirect."""
        self.visited.append(url)
        if not self.opens:
            return False
        with requests.Session() as s:
            answer = self._submit(s, url)
            assert answer.status_code in (301, 302, 303), answer.text
            location = answer.headers["Location"]
            if self.tamper is not None:
                location = self.tamper(location)
            self.landing = s.get(location, timeout=5)
        return True

    def oob_code(self, url: str) -> str | None:
        """The ``ask_code`` callback: approve and copy the code the server shows."""
        self.visited.append(url)
        with requests.Session() as s:
            answer = self._submit(s, url)
        m = re.search(r'<code id="code">([^<]+)</code>', answer.text)
        return m.group(1) if m else None
