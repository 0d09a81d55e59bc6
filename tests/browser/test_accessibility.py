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
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.browser.pages import PAGE_STATES, PageState, World
from tests.conftest import require_service

pytestmark = [
    pytest.mark.browser,
    # serialized_rollback like the other live-server tests: the seeded plans and catalogue
    # come back for the next test after the flush.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
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


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module (Playwright drives Debian's build, never its own)."""
    require_service("Chromium (/usr/bin/chromium)", Path(CHROMIUM).exists())
    require_service("axe-core (run `npm ci --prefix tests/browser`)", AXE.exists())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls that build
    # each page's data are ordinary synchronous code.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture(scope="module")
def contexts(chromium):
    """One reused context per width, axe preloaded, progress polls held back."""
    made = {}
    for name, options in VIEWPORTS.items():
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        # An init script runs outside the page's CSP, like an extension would.
        context.add_init_script(path=str(AXE))
        context.route(POLLS, lambda route: route.abort())
        made[name] = context
    yield made
    for context in made.values():
        context.close()


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
    from django.db import connections

    yield World(request)
    # With Playwright's loop on this thread the ORM calls above get their own connection;
    # close it so the test database can be flushed and dropped.
    connections.close_all()


def session_cookies(user, base_url: str) -> list[dict]:
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return [{"name": name, "value": client.cookies[name].value, "url": base_url}]


class Visit:
    """One page state loaded in one context: its axe violations, overflow and console."""

    def __init__(self, context, base_url: str, state: PageState, path: str, width: str):
        self.width = width
        self.console: list[str] = []
        self.page = context.new_page()
        self.page.on("console", lambda msg: self.console.append(msg.text))
        response = self.page.goto(base_url + path)
        assert response is not None and response.status == state.status, (
            f"{state.name}: {path} answered {response and response.status}"
        )
        if state.prepare:
            state.prepare(self.page)

    def axe(self) -> list[dict]:
        return self.page.evaluate(AXE_RUN, AXE_TAGS)

    def overflow(self) -> dict:
        return self.page.evaluate(OVERFLOW, PHONE_WIDTH)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]

    def screenshot(self, name: str) -> None:
        target = os.environ.get("CREWBUILDER_SCREENSHOTS")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(
                path=str(Path(target) / f"{name}-{self.width}.png"), full_page=True
            )

    def close(self) -> None:
        self.page.close()


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
def test_page_state_meets_wcag_aa_at_desktop_and_phone_width(state, contexts, site, world):
    path = state.url_path(world)
    cookies = session_cookies(getattr(world, state.user), site) if state.user else []
    problems: list[str] = []
    for width, context in contexts.items():
        context.clear_cookies()
        if cookies:
            context.add_cookies(cookies)
        visit = Visit(context, site, state, path, width)
        try:
            violations = visit.axe()
            overflow = visit.overflow() if width == "phone" else None
            visit.screenshot(state.name)
            _record(state, width, violations, overflow)
            blocking = [v for v in violations if v["impact"] in BLOCKING]
            if blocking:
                problems.append(f"{width}: axe found\n{_describe(blocking)}")
            if overflow and max(overflow["scrollWidth"], overflow["innerWidth"]) > PHONE_WIDTH:
                problems.append(f"{width}: wider than {PHONE_WIDTH}px: {overflow}")
            if visit.csp_violations():
                problems.append(f"{width}: CSP violations {visit.csp_violations()}")
        finally:
            visit.close()
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
def keyboard_page(chromium, site, world):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.add_cookies(session_cookies(world.owner, site))
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    yield page
    context.close()
    assert not [m for m in console if "Refused to" in m], console


def _report_stops(name: str, walk: KeyboardWalk) -> None:
    target = os.environ.get("CREWBUILDER_A11Y_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"keyboard": name, "stops": walk.stops}) + "\n")


def test_generate_form_by_keyboard_alone_shows_focus_on_every_stop_and_submits_with_enter(
    keyboard_page, site, world
):
    page = keyboard_page
    page.goto(f"{site}/generate/")
    walk = KeyboardWalk(page)
    skip = walk.tab()
    assert skip["text"] == "Skip to content"
    walk.until(lambda s: s["name"] == "requirement")
    walk.refocus_last()
    page.keyboard.type("Every Monday, collect our three competitors' price changes for the team.")
    walk.until(lambda s: s["name"] == "key_choice")  # the checked "which AI" card
    submit = walk.until(lambda s: s["tag"] == "button" and s["text"] == "Generate")
    _report_stops("generate", walk)
    assert len(walk.stops) >= 15, walk.stops
    assert walk.invisible() == []
    assert submit["outline"] >= 2
    # the radio cards are among the stops, and each shows its ring around the whole card
    assert [s for s in walk.stops if s["name"] == "template"]
    walk.refocus_last()
    with page.expect_navigation(url=re.compile(r"/generations/[0-9a-f-]{36}/$")):
        page.keyboard.press("Enter")
    assert page.locator("#progress .badge", has_text="Succeeded").count() == 1


def test_skip_link_takes_keyboard_focus_past_the_header(keyboard_page, site, world):
    page = keyboard_page
    page.goto(f"{site}/generate/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    inside_main = page.evaluate("() => !!document.activeElement.closest('main')")
    assert inside_main, page.evaluate("() => document.activeElement.outerHTML")


def test_api_key_form_by_keyboard_alone_shows_focus_on_every_stop_and_saves_with_enter(
    keyboard_page, site, world
):
    from keys.models import ProviderKey

    path = world.keys_page()
    page = keyboard_page
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
    _report_stops("api-keys", walk)
    assert walk.invisible() == []
    walk.refocus_last()
    walk.page.keyboard.press("Shift+Tab")  # back in the label field: Enter submits the form
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_selector("text=Saved")
    saved = ProviderKey.objects.get(organization=world.org, provider="anthropic")
    assert saved.label == "Typed without a mouse"
    assert saved.masked in page.locator("#organization-keys").inner_text()


def test_phone_menu_opens_with_the_keyboard_below_the_bar_and_closes_with_escape(
    chromium, site, world
):
    context = chromium.new_context(**VIEWPORTS["phone"])
    context.add_cookies(session_cookies(world.owner, site))
    page = context.new_page()
    try:
        page.goto(f"{site}/generate/")
        toggle = page.locator(".nav-toggle")
        assert toggle.is_visible() and not page.locator("#primary-nav").is_visible()
        toggle.focus()
        page.keyboard.press("Enter")
        nav = page.locator("#primary-nav")
        nav.wait_for(state="visible")
        assert toggle.get_attribute("aria-expanded") == "true"
        # the open menu pushes the page down instead of covering its top
        bar = page.locator("header.topbar").bounding_box()
        heading = page.locator("main h1").bounding_box()
        assert nav.bounding_box()["y"] >= page.locator(".brand").bounding_box()["y"]
        assert heading["y"] >= bar["y"] + bar["height"]
        page.keyboard.press("Escape")
        nav.wait_for(state="hidden")
        assert toggle.get_attribute("aria-expanded") == "false"
        assert page.evaluate("() => document.activeElement.classList.contains('nav-toggle')")
    finally:
        context.close()


# --- without JavaScript ---------------------------------------------------------------------


def test_progress_page_without_javascript_refreshes_until_the_generation_finishes(
    chromium, site, world
):
    from django.utils import timezone

    g = world.running
    context = chromium.new_context(java_script_enabled=False)
    context.add_cookies(session_cookies(world.owner, site))
    page = context.new_page()
    try:
        page.goto(f"{site}/generations/{g.pk}/")
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        assert page.get_by_role("link", name="Reload now").is_visible()
        g.status, g.stage, g.progress = "succeeded", "done", 100
        g.finished_at = timezone.now()
        g.save(update_fields=["status", "stage", "progress", "finished_at"])
        # the meta refresh brings the finished page without anyone touching it
        page.wait_for_selector("#progress .badge:has-text('Succeeded')", timeout=20_000)
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
        assert page.get_by_role("link", name="Reload now").count() == 0
    finally:
        context.close()


def test_progress_page_with_javascript_has_no_refresh_or_reload_link(contexts, site, world):
    g = world.running
    context = contexts["desktop"]
    context.clear_cookies()
    context.add_cookies(session_cookies(world.owner, site))
    page = context.new_page()
    try:
        page.goto(f"{site}/generations/{g.pk}/")
        assert page.locator("#progress[hx-get]").count() == 1  # htmx polls instead
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
        assert page.get_by_role("link", name="Reload now").count() == 0
    finally:
        page.close()
