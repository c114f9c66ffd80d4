import io
import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from generation.music.corpora import JS_FAKES_MIDI

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run beside one unless told the code is in fact synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parent.parent
JS_FAKES = JS_FAKES_MIDI
CHROMIUM = Path(os.environ.get("EARSHOT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Tasks run at once, and each test parses, trains and samples into its own folders."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "training"],
        }
    }
    settings.PARSE_CACHE_DIR = tmp_path / "parse-cache"
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.SAMPLE_DIR = tmp_path / "samples"
    # Rate-limit counters start at zero in every test.
    settings.RATE_LIMIT_DIR = tmp_path / "rate-limits"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": str(tmp_path),
        }
    }


def run_command(*args) -> str:
    """A management command's standard output (its progress on stderr is dropped)."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def js_fakes() -> Path:
    assert JS_FAKES.is_dir(), (
        f"the js-fakes corpus should be at {JS_FAKES} (it is part of the repository)"
    )
    return JS_FAKES


@pytest.fixture
def material(js_fakes, tmp_path):
    """A study's material (tests.factories.import_material): six js-fake chorales as human
    references and two systems' samples. Tests build their own study on it."""
    from tests.factories import import_material

    import_material(js_fakes, tmp_path)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("experimenter", password="pw", is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert not blocked, f"the page broke the site's Content-Security-Policy: {blocked}"


def copy_midi(source: Path, target_dir: Path, name: str) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    shutil.copy(source, target)
    return target


def wait_for_js(page, expression: str, arg=None, timeout: float = 10.0) -> None:
    """Polls a JavaScript expression (or function of `arg`) until it is truthy.

    Playwright's wait_for_function evaluates its predicate with eval(), which the site's
    Content-Security-Policy forbids; page.evaluate runs outside the page's policy.
    """
    import time

    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except Error as error:  # the page navigated while it was asked
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)
