"""The production smoke walk: a black-box client that uses the running stack over HTTP as
a user and an operator would, and fails loudly at the first step that does not work.

Nothing here imports the project: pages are fetched, forms are read from the HTML and
posted back (no JavaScript — every step must work without it), emails are read from the
SMTP sink's files. The client plays the TLS-terminating proxy in front of gunicorn: it
connects to the local port, sends the public host name as ``Host`` with
``X-Forwarded-Proto: https``, and sends cookies marked Secure, as a browser on
``https://<public host>`` would.

    python .ci/smoke/walk.py --state STATE.json [STEP ...]

STATE.json holds the addresses (written by .ci/smoke/run) and what earlier steps learnt
(accounts, cookies, the generation id, the API token), so a later step can be run on its
own. Without STEP names the whole journey runs (JOURNEY below, in order).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import http.client
import io
import json
import re
import secrets
import sys
import time
import traceback
import zipfile
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

REQUIREMENT = (
    "Every Monday, read the new support tickets from the week, group them by theme and "
    "write a short report with suggested fixes for the product team."
)


class StepFailed(AssertionError):
    pass


def check(condition: object, message: str, response: Response | None = None) -> None:
    if not condition:
        detail = f"\n{response.describe()}" if response is not None else ""
        raise StepFailed(message + detail)


def say(message: str) -> None:
    print(f"      {message}", flush=True)


# --- HTTP ---------------------------------------------------------------------------------


class Response:
    def __init__(self, method: str, url: str, status: int, headers, body: bytes):
        self.method, self.url, self.status, self.body = method, url, status, body
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.redirects: list[str] = []

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> dict:
        return json.loads(self.body)

    def describe(self) -> str:
        text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", self.text, flags=re.S)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()
        return f"    {self.method} {self.url} → {self.status}\n    {text[:1200]}"


class Browser:
    """One person's cookie jar and the page they are on."""

    def __init__(self, *, address: str, public_url: str, cookies: dict | None = None):
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.public_url = public_url.rstrip("/")
        self.public_host = urlsplit(public_url).netloc
        self.cookies: dict[str, str] = dict(cookies or {})
        self.current = self.public_url + "/"

    def _path(self, url: str) -> str:
        absolute = urljoin(self.current, url)
        parts = urlsplit(absolute)
        check(
            parts.netloc == self.public_host,
            f"left the site: {absolute} (expected {self.public_host})",
        )
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def request(
        self,
        method: str,
        url: str,
        *,
        data: list[tuple[str, str]] | dict | None = None,
        headers: dict | None = None,
        follow: bool = True,
    ) -> Response:
        chain: list[str] = []
        for _ in range(10):
            path = self._path(url)
            sent = {
                "Host": self.public_host,
                "X-Forwarded-Proto": "https",
                "User-Agent": "crewbuilder-smoke/1",
                "Accept": "text/html,application/json;q=0.9,*/*;q=0.8",
            }
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            body = None
            if method == "POST":
                sent["Origin"] = self.public_url
                sent["Referer"] = self.current
                if data is not None:
                    body = urlencode(data, doseq=True).encode()
                    sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent.update(headers or {})
            conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                conn.request(method, path, body=body, headers=sent)
                raw = conn.getresponse()
                response = Response(
                    method, self.public_url + path, raw.status, raw.headers, raw.read()
                )
                set_cookies = raw.headers.get_all("Set-Cookie") or []
            finally:
                conn.close()
            for header in set_cookies:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            if follow and response.status in (301, 302, 303, 307, 308):
                chain.append(response.url)
                url = urljoin(response.url, response.headers["location"])
                if response.status in (301, 302, 303):
                    method, data = "GET", None
                continue
            response.redirects = chain
            if "html" in response.headers.get("content-type", ""):
                self.current = response.url
            return response
        raise StepFailed(f"too many redirects: {chain}")

    def get(self, url: str, **kw) -> Response:
        return self.request("GET", url, **kw)

    def page(self, url: str, *, expect: str | None = None) -> Response:
        """GET an HTML page that must answer 200 (and contain ``expect``)."""
        response = self.get(url)
        check(response.status == 200, f"GET {url} answered {response.status}", response)
        if expect is not None:
            check(
                expect in html.unescape(response.text), f"{url} does not say {expect!r}", response
            )
        return response

    def submit(
        self,
        page: Response,
        *,
        having: str,
        fields: dict | None = None,
        button: str | None = None,
    ) -> Response:
        """Post back the form of ``page`` that has a field (or id) ``having``, as a
        browser would: its own values, then ``fields`` typed in, ``button`` clicked."""
        forms = parse_forms(page.text)
        form = next((f for f in forms if f.has(having, page.url)), None)
        check(form is not None, f"no form with {having!r} on {page.url}", page)
        return self.request("POST", form.action or page.url, data=form.values(fields, button))


class Form:
    def __init__(self, attrs: dict):
        self.action = attrs.get("action") or ""
        self.id = attrs.get("id") or ""
        self.fields: list[dict] = []

    def has(self, name: str, page_url: str = "") -> bool:
        """A field called ``name``, the form's id, or (``/…``) a prefix of the path it
        posts to."""
        if name.startswith("/"):
            return urlsplit(urljoin(page_url, self.action or page_url)).path.startswith(name)
        return name == self.id or any(f["name"] == name for f in self.fields)

    def options(self, name: str) -> list[tuple[str, str]]:
        for f in self.fields:
            if f["name"] == name and f["tag"] == "select":
                return f["options"]
        raise StepFailed(f"no <select name={name!r}> in the form")

    def values(self, typed: dict | None, button: str | None) -> list[tuple[str, str]]:
        typed = dict(typed or {})
        names = {f["name"] for f in self.fields}
        unknown = set(typed) - names
        check(not unknown, f"the form has no field(s) {sorted(unknown)}; it has {sorted(names)}")
        data: list[tuple[str, str]] = []
        for f in self.fields:
            name, kind = f["name"], f["type"]
            if kind in ("submit", "button", "image", "reset"):
                if button is not None and name == button:
                    data.append((name, f["value"]))
                continue
            if name in typed:
                if kind in ("radio", "checkbox") and f["value"] != str(typed[name]):
                    continue
                if (name, str(typed[name])) not in data:
                    data.append((name, str(typed[name])))
                continue
            if kind in ("radio", "checkbox"):
                if f["checked"]:
                    data.append((name, f["value"]))
            elif f["tag"] == "select":
                chosen = [v for v, _, sel in f["options_full"] if sel] or (
                    [f["options_full"][0][0]] if f["options_full"] else []
                )
                data.extend((name, v) for v in chosen)
            else:
                data.append((name, f["value"]))
        return data


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: dict | None = None
        self._option: list | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a)
            self.forms.append(self._form)
        if self._form is None:
            return
        if tag == "input" and a.get("name"):
            self._form.fields.append(
                {
                    "tag": "input",
                    "name": a["name"],
                    "type": a.get("type", "text").lower(),
                    "value": a.get("value", "on" if a.get("type") in ("checkbox", "radio") else ""),
                    "checked": "checked" in a,
                }
            )
        elif tag == "button" and a.get("name"):
            self._form.fields.append(
                {
                    "tag": "button",
                    "name": a["name"],
                    "type": a.get("type", "submit"),
                    "value": a.get("value", ""),
                    "checked": False,
                }
            )
        elif tag == "select" and a.get("name"):
            self._select = {
                "tag": "select",
                "name": a["name"],
                "type": "select",
                "value": "",
                "checked": False,
                "options": [],
                "options_full": [],
            }
            self._form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value"), "", "selected" in a]
        elif tag == "textarea" and a.get("name"):
            self._textarea = {
                "tag": "textarea",
                "name": a["name"],
                "type": "textarea",
                "value": "",
                "checked": False,
            }
            self._form.fields.append(self._textarea)

    def handle_data(self, data):
        if self._option is not None:
            self._option[1] += data
        elif self._textarea is not None:
            self._textarea["value"] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None and self._select is not None:
            value, label, selected = self._option
            label = label.strip()
            value = label if value is None else value
            self._select["options"].append((value, label))
            self._select["options_full"].append((value, label, selected))
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._form = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


# --- the journey ----------------------------------------------------------------------------


class Walk:
    def __init__(self, state_path: Path):
        self.state_path = state_path
        self.state = json.loads(state_path.read_text())
        self.user = self._browser("user")
        self.operator = self._browser("operator")

    def _browser(self, who: str) -> Browser:
        return Browser(
            address=self.state["address"],
            public_url=self.state["site_url"],
            cookies=self.state.get("cookies", {}).get(who),
        )

    def save(self) -> None:
        self.state["cookies"] = {"user": self.user.cookies, "operator": self.operator.cookies}
        self.state_path.write_text(json.dumps(self.state, indent=2))

    # each step: (name, what it proves)

    def healthz(self):
        """/healthz answers 200 with every component ok"""
        response = self.user.get("/healthz")
        check(response.status == 200, "/healthz is not 200", response)
        body = response.json()
        check(body.get("status") == "ok", f"/healthz says {body}")
        for name, component in body["checks"].items():
            check(component.get("ok") is True, f"/healthz: {name} is not ok: {component}")
        backends = {name: c["backend"] for name, c in body["checks"].items()}
        check(
            backends == {"database": "postgresql", "cache": "redis", "broker": "redis"},
            f"/healthz backends are not the production ones: {backends}",
        )
        say(" ".join(f"{k}={v} ok" for k, v in backends.items()))

    def static_files(self):
        """pages render with hashed static files from the manifest, served by the app"""
        page = self.user.page("/", expect="CrewBuilder")
        check("content-security-policy" in page.headers, "no CSP header on /", page)
        css = re.findall(r'href="(/static/[^"]+\.css)"', page.text)
        js = re.findall(r'src="(/static/[^"]+\.js)"', page.text)
        check(css and js, "the landing page links no static CSS/JS", page)
        for url in css + js:
            check(
                re.search(r"\.[0-9a-f]{12}\.(css|js)$", url),
                f"{url} is not a hashed (manifest) name: collectstatic ran without "
                "production settings",
            )
            asset = self.user.get(url)
            check(asset.status == 200 and asset.body, f"{url} answered {asset.status}", asset)
        say(f"{len(css)} stylesheet(s), {len(js)} script(s), hashed and served: {css[0]}")

    def signup(self):
        """a visitor signs up and is asked to verify the email address"""
        local = f"smoke-{secrets.token_hex(4)}"
        self.state["user_email"] = f"{local}@example.test"
        self.state["user_password"] = "smoke " + secrets.token_urlsafe(12)
        self.state["organization"] = f"{local}'s workspace"
        form = self.user.page("/accounts/signup/")
        response = self.user.submit(
            form,
            having="password2",
            fields={
                "email": self.state["user_email"],
                "password1": self.state["user_password"],
                "password2": self.state["user_password"],
            },
        )
        check(response.status == 200, "sign-up did not land on a page", response)
        check("verify" in response.text.lower(), "sign-up did not ask to verify", response)
        say(f"signed up {self.state['user_email']} → {urlsplit(response.url).path}")

    def verify_email(self):
        """the emailed link (built from CREWBUILDER_SITE_URL) verifies the address"""
        message = wait_for_mail(Path(self.state["maildir"]), self.state["user_email"])
        body = text_of(message)
        site = re.escape(self.state["site_url"])
        match = re.search(site + r"/accounts/confirm-email/[^\s\"<>]+/", body)
        check(match, f"no confirmation link to {self.state['site_url']} in:\n{body[:1500]}")
        link = match.group(0)
        say(f"mail “{message['subject']}” → {link[:70]}…")
        page = self.user.page(link)
        done = self.user.submit(page, having="/accounts/confirm-email/")
        check(done.status == 200, "confirming the address failed", done)
        check(urlsplit(done.url).path == "/generate/", "not signed in after verifying", done)
        say(f"verified and signed in → {urlsplit(done.url).path}")

    def operator_signs_in(self):
        """the bootstrap operator (createoperator) reaches /admin/ at once"""
        login = self.operator.get("/admin/")
        check(login.status == 200 and "/accounts/login/" in login.url, "no login page", login)
        response = self.operator.submit(
            login,
            having="password",
            fields={
                "login": self.state["operator_email"],
                "password": self.state["operator_password"],
            },
        )
        check(
            urlsplit(response.url).path == "/admin/", "the operator did not reach /admin/", response
        )
        check("CrewBuilder operations" in response.text, "not the admin index", response)
        say(f"{self.state['operator_email']} → /admin/ ({response.status})")

    def operator_assigns_plan(self):
        """the operator finds the new organisation's billing account by name and gives it
        the Professional plan (plain admin forms)"""
        name = self.state["organization"]
        self.operator.page(
            "/admin/billing/billingaccount/?q=no-such-organisation", expect="0 results"
        )
        listing = self.operator.page("/admin/billing/billingaccount/?" + urlencode({"q": name}))
        links = set(
            re.findall(r'href="(/admin/billing/billingaccount/\d+/change/[^"]*)"', listing.text)
        )
        check(len(links) == 1, f"expected one billing account for {name!r}: {links}", listing)
        change_url = links.pop().split("?")[0]
        self.state["billing_account_url"] = change_url
        page = self.operator.page(change_url, expect=name)
        form = next(f for f in parse_forms(page.text) if f.has("plan"))
        plan = next((v for v, label in form.options("plan") if label == "Professional"), None)
        check(plan, f"no Professional plan in {form.options('plan')}")
        saved = self.operator.submit(page, having="plan", fields={"plan": plan}, button="_save")
        check("was changed successfully" in saved.text, "the plan was not saved", saved)
        say(f"found by name, plan → Professional ({change_url})")

    def store_key(self):
        """the owner stores an OpenAI key: shown masked, never in full"""
        key = "sk-proj-SMOKEcanary" + secrets.token_hex(20)
        self.state["canary_key"] = key
        page = self.user.page("/settings/api-keys/")
        form = next(
            (
                f
                for f in parse_forms(page.text)
                if ("provider", "openai") in f.values({}, None)
                and ("scope", "organization") in f.values({}, None)
            ),
            None,
        )
        check(form is not None, "no form to add an organisation OpenAI key", page)
        saved = self.user.request(
            "POST",
            page.url,
            data=form.values({"api_key": key, "label": "smoke"}, None),
        )
        check(saved.status == 200 and "Saved" in saved.text, "the key was not saved", saved)
        check(key not in saved.text, "the key is shown in full after saving")
        check(key[-4:] in saved.text, "the masked key is not shown", saved)
        say(f"saved, shown as …{key[-4:]}")

    def generate(self):
        """a generation on CrewBuilder AI (the platform key, served by the fake LLM)"""
        page = self.user.page("/generate/", expect="Generate a crew")
        response = self.user.submit(
            page,
            having="generate-form",
            fields={"requirement": REQUIREMENT, "key_choice": "platform"},
        )
        match = re.search(r"/generations/([0-9a-f-]{36})/$", response.url)
        check(match and response.status == 200, "no generation page after Generate", response)
        self.state["generation_id"] = match.group(1)
        say(f"queued {self.state['generation_id']}")

    def generation_done(self):
        """the worker runs it to done; the page's live progress shows the stages"""
        url = f"/generations/{self.state['generation_id']}/progress/"
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            fragment = self.user.get(url, headers={"HX-Request": "true"})
            check(fragment.status == 200, "the progress fragment failed", fragment)
            stage = re.search(r"<h2>\s*(.*?)\s*</h2>", fragment.text, re.S)
            label = stage.group(1).strip() if stage else "?"
            if not seen or seen[-1] != label:
                seen.append(label)
            if "badge-failed" in fragment.text:
                raise StepFailed(f"the generation failed\n{fragment.describe()}")
            if "badge-succeeded" in fragment.text:
                say(" → ".join(seen))
                return
            time.sleep(0.5)
        raise StepFailed(f"not done after 120 s (stages seen: {seen}); is the worker running?")

    def download(self):
        """the zip downloads and is a CrewAI project"""
        response = self.user.get(f"/generations/{self.state['generation_id']}/download/")
        check(response.status == 200, "download failed", response)
        check(response.headers.get("content-type") == "application/zip", "not a zip", response)
        names = zipfile.ZipFile(io.BytesIO(response.body)).namelist()
        for wanted in ("pyproject.toml", "crew.py", "config/agents.yaml", "config/tasks.yaml"):
            check(any(n.endswith(wanted) for n in names), f"{wanted} missing from {names}")
        say(f"{len(response.body)} bytes, {len(names)} files")

    def api_token(self):
        """the owner of a Professional organisation creates an API token (shown once)"""
        page = self.user.page("/settings/api-tokens/", expect="New token")
        created = self.user.submit(
            page, having="name", fields={"name": "smoke", "scope": "read_write"}
        )
        match = re.search(r'value="(cb_[A-Za-z0-9_\-]+)"', created.text)
        check(match, "no token shown after creating it", created)
        self.state["api_token"] = match.group(1)
        say(f"token {self.state['api_token'][:15]}…")

    def api_call(self):
        """the API answers with the token: the generation ran on the platform key and was
        charged to the plan's quota"""
        auth = {"Authorization": f"Bearer {self.state['api_token']}", "Accept": "application/json"}
        api = Browser(address=self.state["address"], public_url=self.state["site_url"])
        response = api.get(f"/api/v1/generations/{self.state['generation_id']}/", headers=auth)
        check(response.status == 200, "GET /api/v1/generations/<id>/ failed", response)
        g = response.json()
        got = {k: g.get(k) for k in ("status", "provider", "key_source", "charged_as")}
        wanted = {
            "status": "succeeded",
            "provider": "openai",
            "key_source": "platform",
            "charged_as": "quota",
        }
        check(got == wanted, f"the generation is {got}, expected {wanted}")
        check(g["usage"]["input_tokens"] > 0, f"no token usage recorded: {g['usage']}")
        usage = api.get("/api/v1/usage/", headers=auth)
        check(usage.status == 200, "GET /api/v1/usage/ failed", usage)
        u = usage.json()
        check(
            (u["plan"], u["used"], u["limit"]) == ("professional", 1, 50),
            f"usage is {u}, expected professional 1/50",
        )
        say(
            f"generation {got['status']} via {got['provider']}, charged_as={got['charged_as']}, "
            f"{g['usage']['input_tokens']}+{g['usage']['output_tokens']} tokens; usage {u['used']}/{u['limit']}"
        )

    def operator_gives_back(self):
        """the operator gives back the generation (with a reason) and the API shows it"""
        account = self.operator.page(
            self.state["billing_account_url"], expect="Give back generations"
        )
        link = re.search(r'href="([^"]+/give-back/)"', account.text)
        check(link, "no give-back link on the billing account", account)
        form = self.operator.page(link.group(1), expect="1 of 50")
        done = self.operator.submit(
            form, having="reason", fields={"quantity": "1", "reason": "smoke: charged twice"}
        )
        check("Gave back 1 generation" in done.text, "giving back failed", done)
        api = Browser(address=self.state["address"], public_url=self.state["site_url"])
        usage = api.get(
            "/api/v1/usage/", headers={"Authorization": f"Bearer {self.state['api_token']}"}
        ).json()
        check(usage["used"] == 0, f"usage after giving back is {usage}")
        say("gave back 1 (audited); API usage now 0/50")


JOURNEY = [
    "healthz",
    "static_files",
    "signup",
    "verify_email",
    "operator_signs_in",
    "operator_assigns_plan",
    "store_key",
    "generate",
    "generation_done",
    "download",
    "api_token",
    "api_call",
    "operator_gives_back",
]


def wait_for_mail(maildir: Path, recipient: str, timeout: float = 30.0) -> email.message.Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(maildir.glob("*.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if recipient in message.get("X-Smoke-Recipients", ""):
                return message
        time.sleep(0.2)
    raise StepFailed(f"no email to {recipient} reached the SMTP sink within {timeout:.0f} s")


def text_of(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("steps", nargs="*")
    args = parser.parse_args()
    walk = Walk(args.state)
    steps = args.steps or JOURNEY
    for n, name in enumerate(steps, 1):
        fn = getattr(walk, name, None)
        if fn is None or name.startswith("_"):
            print(f"walk: no step {name!r}; steps: {', '.join(JOURNEY)}", file=sys.stderr)
            return 2
        doc = " ".join((fn.__doc__ or name).split())
        print(f"  [{n}/{len(steps)}] {name}: {doc}", flush=True)
        started = time.monotonic()
        try:
            fn()
        except StepFailed as exc:
            print(f"  FAILED {name}: {exc}", flush=True)
            walk.save()
            return 1
        except Exception:
            print(f"  FAILED {name} with an error:\n{traceback.format_exc()}", flush=True)
            walk.save()
            return 1
        walk.save()
        print(f"      ok ({time.monotonic() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
