"""A headless Chromium for page tests: Playwright driving the system browser (`apt-get install chromium`, done by
`make test`), or the one named by $AUDIOVAE_CHROMIUM. The `browser` and `page` fixtures (tests/conftest.py) skip,
saying why, where none can run."""

import os
import shutil

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path():
    named = os.environ.get("AUDIOVAE_CHROMIUM")
    if named:
        return named
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class PageLog:
    """A page with every console message, page error and request it made."""

    def __init__(self, page):
        self.page, self.console, self.errors, self.requests = page, [], [], []
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
