"""WCAG 2.1 AA in the browser: every page state in ``tests/browser/pages.py`` is loaded in
Debian's Chromium at 1280×800 and at 390×844 (touch), axe-core (vendored from the npm
registry by ``npm ci --prefix tests/browser``, injected as an init script, never from a
CDN) checks it against WCAG 2.0/2.1 A + AA and best practice, and the test fails on any
serious or critical violation, on horizontal overflow at 390 px, and on CSP violations.

Set CREWBUILDER_SCREENSHOTS=/some/dir to keep a screenshot of every state and width, and
CREWBUILDER_A11Y_REPORT=/some/file.jsonl to record every violation (any impact) per state.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.browser.pages import PAGE_STATES, PageState, World
from tests.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    require_chromium,
    require_service,
    session_cookies,
)

pytestmark = [
    pytest.mark.browser,
    # serialized_rollback like the other live-server tests: the seeded plans and catalogue
    # come back for the next test after the flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = {"serious", "critical"}
PHONE_WIDTH = 390
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": PHONE_WIDTH, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
# The progress fragment is polled every second; the scan checks the page as rendered (the
# fragment is the same template), so polls are held back while a state is checked.
POLLS = re.compile(r"/generations/[0-9a-f-]{36}/progress/")

AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }));
}"""

OVERFLOW = """(limit) => {
  const root = document.documentElement;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > limit + 0.5 && !el.closest("[data-scroll-region]")) {
      wide.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
        (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
        " right=" + Math.round(box.right));
    }
  }
  return {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth, wide: wide.slice(-5)};
}"""


class BrowserThread:
    """Playwright's sync API on a thread of its own, shared by the module's tests.

    Playwright keeps an event loop running on the thread that drives it. Kept off the test
    thread, it cannot change which database connection the ORM and pytest-django's
    per-test setup and flush see, so the browser can outlive a test (one Chromium for the
    whole module) while every test still gets the usual fresh database. Browser work is
    sent here as a function (``run``); ORM work stays on the test thread.
    """

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self._playwright = None
        self.browser = None

    def run(self, fn, /, *args, **kwargs):
        return self._pool.submit(fn, *args, **kwargs).result()

    def start(self) -> None:
        def start():
            from playwright.sync_api import sync_playwright

            self._playwright = sync_playwright().start()
            self.browser = self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )

        self.run(start)

    def stop(self) -> None:
        def stop():
            self.browser.close()
            self._playwright.stop()

        try:
            self.run(stop)
        finally:
            self._pool.shutdown()

    def new_context(self, *, cookies: list[dict] = (), axe: bool = False, **options):
        def make():
            context = self.browser.new_context(**options)
            context.set_default_timeout(15_000)
            if axe:
                # An init script runs outside the page's CSP, like an extension would.
                context.add_init_script(path=str(AXE))
                context.route(POLLS, lambda route: route.abort())
            if cookies:
                context.add_cookies(list(cookies))
            return context

        return self.run(make)


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module (Debian's build; Playwright's own is never downloaded)."""
    require_chromium()
    require_service("axe-core (run `npm ci --prefix tests/browser`)", AXE.exists())
    browser = BrowserThread()
    browser.start()
    yield browser
    browser.stop()


@pytest.fixture(scope="module")
def contexts(chromium):
    """One reused context per width, axe preloaded, progress polls held back."""
    made = {name: chromium.new_context(axe=True, **options) for name, options in VIEWPORTS.items()}
    yield made
    for context in made.values():
        chromium.run(context.close)


@pytest.fixture
def site(live_server, settings, chromium):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    settings.SITE_URL = live_server.url
    settings.CREWBUILDER_GENERATION_RUNNER = "sync"
    settings.OPENAI_API_KEY = ""
    settings.ANTHROPIC_API_KEY = ""
    return live_server.url


@pytest.fixture
def world(request, site):
    return World(request)


def visit(context, url: str, state: PageState, width: str) -> dict:
    """On the browser thread: load one state in one context and check it."""
    console: list[str] = []
    page = context.new_page()
    page.on("console", lambda msg: console.append(msg.text))
    try:
        response = page.goto(url)
        status = response.status if response else None
        if status != state.status:
            return {"error": f"{url} answered {status}, expected {state.status}"}
        if state.prepare:
            state.prepare(page)
        result = {
            "violations": page.evaluate(AXE_RUN, AXE_TAGS),
            "overflow": page.evaluate(OVERFLOW, PHONE_WIDTH) if width == "phone" else None,
            "csp": [m for m in console if "Content Security Policy" in m or "Refused to" in m],
        }
        target = os.environ.get("CREWBUILDER_SCREENSHOTS")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(target) / f"{state.name}-{width}.png"), full_page=True)
        return result
    finally:
        page.close()


def _record(state: PageState, width: str, violations: list[dict], overflow: dict | None) -> None:
    target = os.environ.get("CREWBUILDER_A11Y_REPORT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as out:
        row = {"state": state.name, "width": width, "violations": violations}
        row["overflow"] = overflow
        out.write(json.dumps(row) + "\n")


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        lines.extend(f"      {n['target']} — {n['summary']}" for n in v["nodes"][:6])
    return "\n".join(lines)


@pytest.mark.parametrize("state", PAGE_STATES, ids=[s.name for s in PAGE_STATES])
def test_page_state_meets_wcag_aa_at_desktop_and_phone_width(
    state, chromium, contexts, site, world
):
    path = state.url_path(world)
    cookies = session_cookies(getattr(world, state.user), site) if state.user else []
    problems: list[str] = []
    for width, context in contexts.items():
        chromium.run(context.clear_cookies)
        if cookies:
            chromium.run(context.add_cookies, cookies)
        result = chromium.run(visit, context, site + path, state, width)
        if "error" in result:
            problems.append(f"{width}: {result['error']}")
            continue
        violations, overflow = result["violations"], result["overflow"]
        _record(state, width, violations, overflow)
        blocking = [v for v in violations if v["impact"] in BLOCKING]
        if blocking:
            problems.append(f"{width}: axe found\n{_describe(blocking)}")
        if overflow and max(overflow["scrollWidth"], overflow["innerWidth"]) > PHONE_WIDTH:
            problems.append(f"{width}: wider than {PHONE_WIDTH}px: {overflow}")
        if result["csp"]:
            problems.append(f"{width}: CSP violations {result['csp']}")
    assert not problems, f"{state.name} ({path}):\n" + "\n".join(problems)


# --- keyboard ------------------------------------------------------------------------------

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const card = el.matches("input[type=radio], input[type=checkbox]") && el.closest(".choice");
  const ring = getComputedStyle(card || el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    text: (el.getAttribute("aria-label") || el.innerText || el.value || el.name || "").trim().slice(0, 40),
    name: el.name || "",
    outline: ring.outlineStyle === "none" ? 0 : parseFloat(ring.outlineWidth),
    order: [...document.querySelectorAll("*")].indexOf(el),
    box: {x: box.x, y: box.y, width: box.width, height: box.height},
  };
}"""


def _changed_pixels(before: bytes, after: bytes) -> int:
    import io

    from PIL import Image, ImageChops

    a = Image.open(io.BytesIO(before)).convert("RGB")
    b = Image.open(io.BytesIO(after)).convert("RGB")
    histogram = ImageChops.difference(a, b).convert("L").histogram()
    return sum(histogram[25:])  # pixels whose brightness moved by more than ~10 %


class KeyboardWalk:
    """Tab from stop to stop; at each one compare the focused element's surroundings with
    and without focus (a screenshot difference) and read the ring's computed width."""

    MARGIN = 6  # the 2 px ring sits 2 px outside the element

    def __init__(self, page):
        self.page = page
        self.stops: list[dict] = []

    def tab(self) -> dict:
        self.page.keyboard.press("Tab")
        stop = self.page.evaluate(FOCUSED)
        assert stop is not None, f"Tab left the page after {self._trail()}"
        if self.stops:
            assert stop["order"] > self.stops[-1]["order"], f"focus went backwards: {self._trail()}"
        stop["changed"] = self._focus_difference(stop)
        self.stops.append(stop)
        return stop

    def _focus_difference(self, stop: dict) -> int:
        box = stop["box"]
        viewport = self.page.viewport_size
        x = max(box["x"] - self.MARGIN, 0)
        y = max(box["y"] - self.MARGIN, 0)
        clip = {
            "x": x,
            "y": y,
            "width": min(box["width"] + 2 * self.MARGIN, viewport["width"] - x),
            "height": min(box["height"] + 2 * self.MARGIN, viewport["height"] - y),
        }
        focused = self.page.screenshot(clip=clip, animations="disabled")
        # blur() keeps the sequential navigation starting point: the next Tab goes on from
        # this element, so the walk continues where it was.
        self.page.evaluate("document.activeElement.blur()")
        unfocused = self.page.screenshot(clip=clip, animations="disabled")
        return _changed_pixels(focused, unfocused)

    def until(self, predicate, *, limit: int = 60) -> dict:
        for _ in range(limit):
            stop = self.tab()
            if predicate(stop):
                return stop
        raise AssertionError(f"never reached the stop: {self._trail()}")

    def refocus_last(self) -> None:
        """Put focus back on the last stop with the keyboard (Shift+Tab, Tab)."""
        self.page.keyboard.press("Shift+Tab")
        self.page.keyboard.press("Tab")

    def invisible(self) -> list[str]:
        return [
            f"{s['tag']} {s['text']!r}: ring {s['outline']}px, {s['changed']} px changed"
            for s in self.stops
            if s["outline"] < 2 or s["changed"] < 2 * (s["box"]["width"] + s["box"]["height"])
        ]

    def _trail(self) -> str:
        return " → ".join(f"{s['tag']}:{s['text']}" for s in self.stops[-8:])


@pytest.fixture
def owner_context(chromium, site, world):
    """A desktop context signed in as the owner; fails the test on a CSP violation."""
    console: list[str] = []
    context = chromium.new_context(
        viewport={"width": 1280, "height": 800}, cookies=session_cookies(world.owner, site)
    )
    chromium.run(context.on, "console", lambda msg: console.append(msg.text))
    yield context
    chromium.run(context.close)
    assert not [m for m in console if "Refused to" in m], console


def _report_stops(name: str, stops: list[dict]) -> None:
    target = os.environ.get("CREWBUILDER_A11Y_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"keyboard": name, "stops": stops}) + "\n")


def test_generate_form_by_keyboard_alone_shows_focus_on_every_stop_and_submits_with_enter(
    chromium, owner_context, site
):
    def drive(page) -> tuple[KeyboardWalk, str, int]:
        page.goto(f"{site}/generate/")
        walk = KeyboardWalk(page)
        assert walk.tab()["text"] == "Skip to content"
        walk.until(lambda s: s["name"] == "requirement")
        walk.refocus_last()
        page.keyboard.type("Every Monday, collect our three competitors' price changes.")
        walk.until(lambda s: s["name"] == "key_choice")  # the checked "which AI" card
        walk.until(lambda s: s["tag"] == "button" and s["text"] == "Generate")
        walk.refocus_last()
        with page.expect_navigation(url=re.compile(r"/generations/[0-9a-f-]{36}/$")):
            page.keyboard.press("Enter")
        done = page.locator("#progress .badge", has_text="Succeeded").count()
        return walk, page.url, done

    page = chromium.run(owner_context.new_page)
    walk, url, done = chromium.run(drive, page)
    _report_stops("generate", walk.stops)
    assert len(walk.stops) >= 15, walk.stops
    assert walk.invisible() == []
    # the radio cards are among the stops, each with a ring around the whole card
    assert [s for s in walk.stops if s["name"] == "template"]
    assert [s for s in walk.stops if s["name"] == "key_choice"]
    assert done == 1, url


def test_skip_link_takes_keyboard_focus_past_the_header(chromium, owner_context, site):
    def drive(page) -> bool:
        page.goto(f"{site}/generate/")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        return page.evaluate("() => !!document.activeElement.closest('main')")

    assert chromium.run(drive, chromium.run(owner_context.new_page))


def test_api_key_form_by_keyboard_alone_shows_focus_on_every_stop_and_saves_with_enter(
    chromium, owner_context, site, world
):
    from keys.models import ProviderKey

    path = world.keys_page()

    def drive(page) -> tuple[KeyboardWalk, str]:
        page.goto(f"{site}{path}")
        # Regions that do not scroll stop being tab stops once the script has measured them.
        page.wait_for_function(
            """() => [...document.querySelectorAll('[data-scroll-region]')].every(r =>
                 r.hasAttribute('tabindex') ===
                 (r.scrollWidth > r.clientWidth + 1 || r.scrollHeight > r.clientHeight + 1))"""
        )
        walk = KeyboardWalk(page)
        walk.until(lambda s: s["text"] == "Test")  # the organisation key's row
        walk.until(lambda s: s["text"] == "Add Anthropic key")
        walk.refocus_last()
        page.keyboard.press("Enter")  # opens the form
        walk.until(lambda s: s["name"] == "api_key")
        walk.refocus_last()
        page.keyboard.type("sk-ant-api03-keyboardOnly" + "x" * 40)
        walk.until(lambda s: s["name"] == "label")
        walk.refocus_last()
        page.keyboard.type("Typed without a mouse")
        walk.until(lambda s: s["text"] == "Save key")
        walk.refocus_last()
        page.keyboard.press("Shift+Tab")  # back in the label field: Enter submits the form
        with page.expect_navigation():
            page.keyboard.press("Enter")
        page.wait_for_selector("text=Saved")
        return walk, page.locator("#organization-keys").inner_text()

    walk, org_keys = chromium.run(drive, chromium.run(owner_context.new_page))
    _report_stops("api-keys", walk.stops)
    assert walk.invisible() == []
    saved = ProviderKey.objects.get(organization=world.org, provider="anthropic")
    assert saved.label == "Typed without a mouse"
    assert saved.masked in org_keys


def test_phone_menu_opens_with_the_keyboard_below_the_bar_and_closes_with_escape(
    chromium, site, world
):
    def drive(context) -> dict:
        page = context.new_page()
        page.goto(f"{site}/generate/")
        toggle, nav = page.locator(".nav-toggle"), page.locator("#primary-nav")
        seen = {"closed_at_first": toggle.is_visible() and not nav.is_visible()}
        toggle.focus()
        page.keyboard.press("Enter")
        nav.wait_for(state="visible")
        seen["expanded"] = toggle.get_attribute("aria-expanded")
        seen["bar"] = page.locator("header.topbar").bounding_box()
        seen["heading"] = page.locator("main h1").bounding_box()
        page.keyboard.press("Escape")
        nav.wait_for(state="hidden")
        seen["collapsed"] = toggle.get_attribute("aria-expanded")
        seen["focus_back"] = page.evaluate(
            "() => document.activeElement.classList.contains('nav-toggle')"
        )
        return seen

    context = chromium.new_context(cookies=session_cookies(world.owner, site), **VIEWPORTS["phone"])
    try:
        seen = chromium.run(drive, context)
    finally:
        chromium.run(context.close)
    assert seen["closed_at_first"] and seen["expanded"] == "true"
    # the open menu is part of the bar and pushes the page down instead of covering it
    assert seen["heading"]["y"] >= seen["bar"]["y"] + seen["bar"]["height"]
    assert seen["collapsed"] == "false" and seen["focus_back"]


# --- without JavaScript ---------------------------------------------------------------------


def test_progress_page_without_javascript_refreshes_until_the_generation_finishes(
    chromium, site, world
):
    from django.utils import timezone

    g = world.running
    url = f"{site}/generations/{g.pk}/"
    context = chromium.new_context(
        java_script_enabled=False, cookies=session_cookies(world.owner, site)
    )
    try:
        page = chromium.run(context.new_page)

        def running(page) -> tuple[int, bool]:
            page.goto(url)
            refresh = page.locator('meta[http-equiv="refresh"]').count()
            return refresh, page.get_by_role("link", name="Reload now").is_visible()

        assert chromium.run(running, page) == (1, True)
        g.status, g.stage, g.progress = "succeeded", "done", 100
        g.finished_at = timezone.now()
        g.save(update_fields=["status", "stage", "progress", "finished_at"])

        def finished(page) -> tuple[int, int]:
            # the meta refresh brings the finished page without anyone touching it
            page.wait_for_selector("#progress .badge:has-text('Succeeded')", timeout=20_000)
            refresh = page.locator('meta[http-equiv="refresh"]').count()
            return refresh, page.get_by_role("link", name="Reload now").count()

        assert chromium.run(finished, page) == (0, 0)
    finally:
        chromium.run(context.close)


def test_progress_page_with_javascript_has_no_refresh_or_reload_link(
    chromium, owner_context, site, world
):
    url = f"{site}/generations/{world.running.pk}/"

    def drive(page) -> tuple[int, int, int]:
        page.goto(url)
        return (
            page.locator("#progress[hx-get]").count(),  # htmx polls instead
            page.locator('meta[http-equiv="refresh"]').count(),
            page.get_by_role("link", name="Reload now").count(),
        )

    assert chromium.run(drive, chromium.run(owner_context.new_page)) == (1, 0, 0)
