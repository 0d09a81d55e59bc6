"""Black-box HTTP journeys against a running CrewBuilder web process (standard library only,
so any Python runs it). Used by scripts/upgrade_check.sh:

``rolling``  — the *previous* release's web process against the migrated database (the
               rolling-deploy window): sign in, list the generations, create one on the
               organisation's stored key, see it finish and download it.
``logo-upload`` / ``logo-fetch`` — a logo uploaded through the branding page before a web
               restart is served byte-identical by a process started from a fresh clone.

The web process runs with production settings behind a pretend TLS proxy: requests carry
``X-Forwarded-Proto: https`` (settings trust it), so cookies are Secure and CSRF checks the
Referer, as in production.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import http.client
import json
import re
import sys
import time
import uuid
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit


class Fail(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Fail(message)


class Browser:
    """A tiny browser: cookies (Secure ones too: TLS ends at the pretend proxy), CSRF token
    from the cookie, no automatic redirects (the journey checks each one)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.origin = f"https://{parts.hostname}:{parts.port}"
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        sent = {"X-Forwarded-Proto": "https", "Host": f"{self.host}:{self.port}"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            sent["Referer"] = f"{self.origin}{path}"
            sent["Origin"] = self.origin
            if "csrftoken" in self.cookies:
                sent["X-CSRFToken"] = self.cookies["csrftoken"]
        sent.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                cookie = SimpleCookie()
                cookie.load(value)
                for name, morsel in cookie.items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, fields: dict[str, str]):
        fields = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **fields}
        return self.request(
            "POST",
            path,
            body=urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def post_multipart(self, path: str, fields: dict[str, str], files: dict[str, tuple]):
        boundary = uuid.uuid4().hex
        fields = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **fields}
        chunks = []
        for name, value in fields.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        for name, (filename, content_type, data) in files.items():
            chunks.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        chunks.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            path,
            body=b"".join(chunks),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    def sign_in(self, email: str, password: str) -> None:
        status, _, _ = self.get("/accounts/login/")
        check(status == 200, f"login page answered {status}")
        status, headers, body = self.post_form(
            "/accounts/login/", {"login": email, "password": password}
        )
        check(
            status == 302 and "sessionid" in self.cookies,
            f"sign-in as {email} failed: {status} {headers.get('location')} {body[:300]!r}",
        )

    def switch(self, organization_id: int) -> None:
        status, _, _ = self.post_form(
            "/organizations/switch/", {"organization": str(organization_id)}
        )
        check(status == 302, f"switching organisation answered {status}")


def api(browser: Browser, path: str, token: str) -> tuple[int, dict]:
    status, _, body = browser.get(path, headers={"Authorization": f"Bearer {token}"})
    try:
        return status, json.loads(body or b"{}")
    except ValueError:
        return status, {"raw": body[:300].decode("utf-8", "replace")}


def wait_healthy(browser: Browser, *, seconds: float = 90) -> dict:
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, _, body = browser.get("/healthz", timeout=5)
            if status == 200:
                return json.loads(body)
            last = f"{status} {body[:200]!r}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise Fail(f"/healthz never answered 200 within {seconds:.0f} s: {last}")


def rolling(args, manifest: dict) -> None:
    """The previous release's web process on the new schema."""
    org = manifest["organizations"]["professional"]
    email = "owner.pro@upgrade.test"
    read_token = next(t["raw"] for t in manifest["tokens"] if t["name"] == "Reporting (read)")
    org_key = next(k["plaintext"] for k in manifest["keys"] if k["name"] == "pro_org_openai")
    browser = Browser(args.base_url)
    health = wait_healthy(browser)
    print(f"  healthz: {health.get('status')}")
    browser.sign_in(email, manifest["users"][email]["password"])
    browser.switch(org["id"])
    print(f"  signed in as {email}, organisation {org['name']}")

    status, _, body = browser.get("/generations/")
    check(status == 200, f"/generations/ answered {status}")
    page = body.decode()
    listed = [g["id"] for g in manifest["generations"] if g["organization_id"] == org["id"]]
    missing = [gid for gid in listed if gid not in page]
    check(not missing, f"/generations/ does not list {missing}")
    print(f"  /generations/ lists the {len(listed)} generations of the previous release")

    log = Path(args.fake_log)
    seen = len(log.read_text().splitlines())
    status, headers, body = browser.post_form(
        "/generate/",
        {
            "requirement": "Every Friday, collect the week's support tickets and draft a "
            "summary for the team (rolling-deploy smoke).",
            "key_choice": "openai",
        },
    )
    location = headers.get("location", "")
    found = re.search(r"/generations/([0-9a-f-]{36})/", location)
    check(status == 302 and found, f"/generate/ answered {status} {location} {body[:300]!r}")
    generation_id = found.group(1)
    deadline = time.monotonic() + 120
    detail = {}
    while time.monotonic() < deadline:
        status, detail = api(browser, f"/api/v1/generations/{generation_id}/", read_token)
        check(status == 200, f"API detail answered {status} {detail}")
        if detail.get("status") in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    check(detail.get("status") == "succeeded", f"the new generation ended {detail}")
    used = [json.loads(line) for line in log.read_text().splitlines()[seen:]]
    check(
        any(r["api_key"] == org_key for r in used),
        "the stored organisation key did not reach the provider",
    )
    status, headers, body = browser.get(f"/generations/{generation_id}/download/")
    check(
        status == 200 and body[:2] == b"PK",
        f"download answered {status} {headers.get('content-type')}",
    )
    print(
        f"  created {generation_id} on the stored key: succeeded "
        f"({detail.get('charged_as')}), zip {len(body)} bytes"
    )


def logo_upload(args, manifest: dict) -> None:
    """Sign in as the Enterprise owner, check the migrated logo, upload a new one."""
    org = manifest["organizations"]["enterprise"]
    email = "owner.ent@upgrade.test"
    browser = Browser(args.base_url)
    wait_healthy(browser)
    expected = manifest["logos"][0]["sha256"]
    status, _, body = browser.get(f"/branding/{org['uuid']}/logo.png")
    check(status == 200, f"the migrated logo answered {status}")
    check(
        hashlib.sha256(body).hexdigest() == expected,
        "the logo the previous release served is not served byte-identical after migrating",
    )
    print("  the previous release's logo is served byte-identical from the database")
    browser.sign_in(email, manifest["users"][email]["password"])
    browser.switch(org["id"])
    logo = Path(args.logo).read_bytes()
    status, headers, body = browser.post_multipart(
        "/settings/branding/",
        {
            "brand_name": "Enterprise Crews",
            "primary_color": "#0b5394",
            "accent_color": "#f1c232",
            "custom_domain": "crews.enterprise-corp.test",
        },
        {"logo": ("new-logo.png", "image/png", logo)},
    )
    check(status == 302, f"uploading the logo answered {status} {body[:500]!r}")
    status, _, body = browser.get("/settings/branding/")
    found = re.search(r'src="(/branding/[0-9a-f-]{36}/logo\.png\?v=[0-9a-f]+)"', body.decode())
    check(status == 200 and found, "the branding page does not show the uploaded logo")
    url = html.unescape(found.group(1))
    status, headers, served = browser.get(url)
    check(status == 200 and served[:8] == b"\x89PNG\r\n\x1a\n", f"{url} answered {status}")
    Path(args.record).write_text(
        json.dumps(
            {"url": url, "sha256": hashlib.sha256(served).hexdigest(), "etag": headers.get("etag")}
        )
    )
    print(
        f"  uploaded a logo: {url} ({len(served)} bytes, sha256 {hashlib.sha256(served).hexdigest()[:16]}…)"
    )


def logo_fetch(args, manifest: dict) -> None:
    """After the restart from a fresh clone: the same URL serves the same bytes."""
    record = json.loads(Path(args.record).read_text())
    browser = Browser(args.base_url)
    wait_healthy(browser)
    status, headers, served = browser.get(record["url"])
    check(status == 200, f"{record['url']} answered {status} after the restart")
    digest = hashlib.sha256(served).hexdigest()
    check(digest == record["sha256"], "the logo changed across the restart")
    check(headers.get("etag") == record["etag"], "the logo's ETag changed across the restart")
    print(
        f"  after the restart from a fresh clone: {record['url']} byte-identical ({len(served)} bytes)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journey", choices=["rolling", "logo-upload", "logo-fetch"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--fake-log", help="the fake provider's request log (rolling)")
    parser.add_argument("--logo", help="a PNG to upload (logo-upload)")
    parser.add_argument("--record", help="where the uploaded logo's URL and digest are kept")
    args = parser.parse_args()
    manifest = json.loads(Path(args.manifest).read_text())
    journeys = {"rolling": rolling, "logo-upload": logo_upload, "logo-fetch": logo_fetch}
    try:
        journeys[args.journey](args, manifest)
    except (Fail, OSError) as exc:
        print(f"FAIL ({args.journey}): {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
