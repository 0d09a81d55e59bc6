"""Fill a freshly migrated database with every kind of row a customer's database holds,
through CrewBuilder's own pages, API and services — run by ``make.sh`` **inside a checkout
of the release being captured** (its code, its venv), never by HEAD.

It writes a manifest (JSON) next to the dump: the secrets the dump cannot reveal (test-only
passwords, API tokens, provider keys), what each row must look like after an upgrade (a
snapshot of every table, ``snapshot.py``) and what the old release served (zip and logo
bytes, as SHA-256).

Written against the 0.1.0 APIs. When a release changes one of the calls below, adapt this
script in the same release (docs/RELEASING.md): it always runs against the release being
cut, with that release's code.

Usage (make.sh sets the environment: database, test-only keys, media root):

    cd <old checkout> && PYTHONPATH=. <old venv>/bin/python populate.py --out manifest.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import io
import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Test-only secrets. They exist in this fixture and nowhere else.
PASSWORDS = {
    "owner.free@upgrade.test": "Fixture-free-owner-2026!",
    "owner.basic@upgrade.test": "Fixture-basic-owner-2026!",
    "owner.pro@upgrade.test": "Fixture-pro-owner-2026!",
    "admin.pro@upgrade.test": "Fixture-pro-admin-2026!",
    "member.pro@upgrade.test": "Fixture-pro-member-2026!",
    "owner.ent@upgrade.test": "Fixture-ent-owner-2026!",
    "operator@upgrade.test": "Fixture-operator-2026!",
}
PLATFORM_OPENAI_KEY = "sk-fixture-platform-openai-0000000000000000PLAT"
PLATFORM_ANTHROPIC_KEY = "sk-ant-fixture-platform-anthropic-00000000PLAT"
STORED_KEYS = {
    "pro_org_openai": "sk-fixture-pro-org-openai-1111111111111111ORGK",
    "pro_member_anthropic": "sk-ant-fixture-pro-member-anthropic-2222PERS",
    "ent_org_anthropic": "sk-ant-fixture-ent-org-anthropic-33333333ENTK",
}
ONE_TIME_KEYS = {
    "free_one_time_openai": "sk-fixture-free-one-time-openai-44444444ONCE",
    "guest_one_time_openai": "sk-fixture-guest-one-time-openai-5555GUEST",
}
REQUIREMENT = (
    "Every Monday, research our three main competitors' pricing pages and write a "
    "one-page summary for the sales team ({tag})."
)


def _load_snapshot_module():
    spec = importlib.util.spec_from_file_location("cb_upgrade_snapshot", HERE / "snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _logo_png() -> bytes:
    """A deterministic 96×48 two-colour PNG: what a customer uploads as a logo."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 48), "#0b5394")
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, 40, 40), fill="#f1c232")
    draw.ellipse((52, 8, 84, 40), fill="#ffffff")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Populator:
    def __init__(self, fake) -> None:
        from django.core import mail

        self.fake = fake
        self.mail = mail
        if not hasattr(mail, "outbox"):
            mail.outbox = []  # the locmem backend appends every sent message here
        self.users: dict[str, object] = {}
        self.clients: dict[str, object] = {}
        self.manifest: dict = {
            "users": {},
            "organizations": {},
            "tokens": [],
            "keys": [],
            "generations": [],
            "logos": [],
            "invitations": {},
        }

    # --- people -----------------------------------------------------------------------

    def sign_up(self, email: str):
        """Sign up through allauth's pages and confirm the emailed link, as a person does."""
        from django.test import Client

        from accounts.models import User

        client = Client()
        password = PASSWORDS[email]
        sent = len(self.mail.outbox)
        response = client.post(
            "/accounts/signup/", {"email": email, "password1": password, "password2": password}
        )
        assert response.status_code == 302, (email, response.status_code)
        body = "\n".join(m.body for m in self.mail.outbox[sent:])
        key = re.search(r"/accounts/confirm-email/([^/\s]+)/", body).group(1)
        response = client.post(f"/accounts/confirm-email/{key}/")
        assert response.status_code == 302, (email, response.status_code)
        user = User.objects.get(email=email)
        self.users[email] = user
        self.clients[email] = client
        self.manifest["users"][email] = {"password": PASSWORDS[email], "id": user.pk}
        return user

    def switch(self, email: str, organization) -> None:
        response = self.clients[email].post(
            "/organizations/switch/", {"organization": organization.pk}
        )
        assert response.status_code == 302, response.status_code

    def org(self, key: str, organization, plan: str) -> None:
        self.manifest["organizations"][key] = {
            "id": organization.pk,
            "uuid": str(organization.uuid),
            "name": organization.name,
            "plan": plan,
        }

    # --- generations ------------------------------------------------------------------

    def record_generation(self, generation, *, label: str, owner_email: str, key: str = ""):
        from generation.models import Generation

        generation = Generation.objects.get(pk=generation.pk)
        zip_bytes = bytes(generation.zip_data) if generation.zip_data else b""
        served = b""
        if generation.status == Generation.Status.SUCCEEDED:
            # what the old release serves for the download, byte for byte
            response = self.clients[owner_email].get(f"/generations/{generation.pk}/download/")
            assert response.status_code == 200, response.status_code
            served = _body(response)
            assert served == zip_bytes
        self.manifest["generations"].append(
            {
                "label": label,
                "id": str(generation.pk),
                "organization_id": generation.organization_id,
                "status": generation.status,
                "charged_as": generation.charged_as,
                "key_source": generation.key_source,
                "resolved_key_source": generation.resolved_key_source,
                "provider_key_id": generation.provider_key_id,
                "zip_sha256": _sha(served) if served else None,
                "zip_bytes": len(served),
                "provider_key_used": key,
                "owner_email": owner_email,
            }
        )
        return generation

    def generate_page(self, email: str, *, key_choice: str, tag: str, **extra):
        """The generate page, as a member submits it (runs inline: runner "sync")."""
        from generation.models import Generation

        before = set(Generation.objects.values_list("pk", flat=True))
        response = self.clients[email].post(
            "/generate/",
            {"requirement": REQUIREMENT.format(tag=tag), "key_choice": key_choice, **extra},
        )
        assert response.status_code == 302, (response.status_code, response.content[:2000])
        (new,) = set(Generation.objects.values_list("pk", flat=True)) - before
        return Generation.objects.get(pk=new)

    # --- the whole database -----------------------------------------------------------

    def run(self) -> dict:
        from django.utils import timezone

        from accounts import services as accounts_services
        from accounts.models import ApiToken, Invitation, Organization, User
        from billing import services as billing_services
        from billing import webhooks
        from billing.models import BillingAccount, Plan
        from crewbuilder.api import tokens as token_services
        from generation import guest
        from generation.models import Generation
        from keys import services as key_services

        plans = {plan.slug: plan for plan in Plan.objects.all()}
        operator = User.objects.create_superuser(
            email="operator@upgrade.test", password=PASSWORDS["operator@upgrade.test"]
        )
        self.manifest["users"]["operator@upgrade.test"] = {
            "password": PASSWORDS["operator@upgrade.test"],
            "id": operator.pk,
            "staff": True,
        }

        # Free: a personal workspace living on bought and granted credits, plus a
        # one-time-key generation (free, never stored).
        free_owner = self.sign_up("owner.free@upgrade.test")
        free_org = Organization.objects.get(created_by=free_owner, is_personal=True)
        self.org("free", free_org, "free")
        billing_services.credits_purchase_record(
            organization=free_org,
            checkout_session_id="cs_test_fixture_free_0001",
            payment_intent_id="pi_test_fixture_free_0001",
            quantity=3,
            amount_cents=1500,
            currency="usd",
        )
        billing_services.credits_grant(
            organization=free_org, actor=operator, quantity=1, note="fixture: goodwill credit"
        )
        g = self.generate_page("owner.free@upgrade.test", key_choice="platform", tag="free-credit")
        self.record_generation(
            g, label="free_credit", owner_email="owner.free@upgrade.test", key=PLATFORM_OPENAI_KEY
        )
        g = self.generate_page(
            "owner.free@upgrade.test",
            key_choice="one_time",
            tag="free-one-time",
            one_time_provider="openai",
            api_key=ONE_TIME_KEYS["free_one_time_openai"],
        )
        self.record_generation(
            g,
            label="free_one_time",
            owner_email="owner.free@upgrade.test",
            key=ONE_TIME_KEYS["free_one_time_openai"],
        )

        # Basic: a Stripe subscription (applied by the webhook handler), two platform
        # generations on the quota and one that failed and gave its charge back.
        basic_owner = self.sign_up("owner.basic@upgrade.test")
        basic_org = accounts_services.organization_create(name="Basic Bakery", owner=basic_owner)
        self.org("basic", basic_org, "basic")
        now = timezone.now()
        period_start = int((now - dt.timedelta(days=5)).timestamp())
        period_end = int((now + dt.timedelta(days=25)).timestamp())
        webhooks.stripe_event_receive(
            event={
                "id": "evt_test_fixture_basic_sub_created",
                "type": "customer.subscription.created",
                "created": period_start,
                "livemode": False,
                "data": {
                    "object": {
                        "id": "sub_test_fixture_basic",
                        "object": "subscription",
                        "customer": "cus_test_fixture_basic",
                        "status": "active",
                        "cancel_at_period_end": False,
                        "current_period_start": period_start,
                        "current_period_end": period_end,
                        "metadata": {"organization_uuid": str(basic_org.uuid), "plan": "basic"},
                        "items": {
                            "data": [
                                {
                                    "price": {
                                        "id": "price_test_fixture_basic",
                                        "lookup_key": "crewbuilder_basic_monthly",
                                    }
                                }
                            ]
                        },
                    }
                },
            }
        )
        account = BillingAccount.objects.get(organization=basic_org)
        assert account.plan_id == plans["basic"].pk and account.plan_source == "stripe"
        self.switch("owner.basic@upgrade.test", basic_org)
        for n in (1, 2):
            g = self.generate_page(
                "owner.basic@upgrade.test", key_choice="platform", tag=f"basic-quota-{n}"
            )
            self.record_generation(
                g, label=f"basic_quota_{n}", owner_email="owner.basic@upgrade.test"
            )
        self.fake.push_error(400, message="fixture: the provider refused this request")
        g = self.generate_page("owner.basic@upgrade.test", key_choice="platform", tag="basic-fail")
        g = self.record_generation(g, label="basic_failed", owner_email="owner.basic@upgrade.test")
        assert g.status == Generation.Status.FAILED, g.status

        # Professional: a team (invitations accepted, pending, revoked), organisation and
        # personal keys, API tokens of each scope (one revoked), generations through the
        # API (idempotent, organisation key) and the page (personal key, templates).
        pro_owner = self.sign_up("owner.pro@upgrade.test")
        pro_org = accounts_services.organization_create(name="Pro Partners", owner=pro_owner)
        self.org("professional", pro_org, "professional")
        billing_services.billing_plan_assign(
            organization=pro_org, plan=plans["professional"], actor=operator
        )
        for email, role in (
            ("admin.pro@upgrade.test", "admin"),
            ("member.pro@upgrade.test", "member"),
        ):
            invitation, token = accounts_services.invitation_create(
                organization=pro_org, actor=pro_owner, email=email, role=role
            )
            self.sign_up(email)
            response = self.clients[email].post(f"/invitations/{token}/")
            assert response.status_code == 302, response.status_code
            invitation.refresh_from_db()
            assert invitation.status == Invitation.Status.ACCEPTED, invitation.status
            self.manifest["invitations"][email] = {"id": invitation.pk, "status": "accepted"}
            self.switch(email, pro_org)
        pending, _ = accounts_services.invitation_create(
            organization=pro_org, actor=pro_owner, email="pending@upgrade.test", role="viewer"
        )
        self.manifest["invitations"]["pending@upgrade.test"] = {
            "id": pending.pk,
            "status": "pending",
        }
        revoked, _ = accounts_services.invitation_create(
            organization=pro_org, actor=pro_owner, email="revoked@upgrade.test", role="member"
        )
        accounts_services.invitation_revoke(invitation=revoked, actor=pro_owner)
        self.manifest["invitations"]["revoked@upgrade.test"] = {
            "id": revoked.pk,
            "status": "revoked",
        }
        self.switch("owner.pro@upgrade.test", pro_org)

        pro_key = key_services.provider_key_store(
            organization=pro_org,
            actor=pro_owner,
            provider="openai",
            api_key=STORED_KEYS["pro_org_openai"],
            label="Team OpenAI",
        )
        member = self.users["member.pro@upgrade.test"]
        personal = key_services.provider_key_store(
            organization=pro_org,
            actor=member,
            provider="anthropic",
            api_key=STORED_KEYS["pro_member_anthropic"],
            label="My Claude",
            scope="user",
        )
        for key, name in ((pro_key, "pro_org_openai"), (personal, "pro_member_anthropic")):
            self.manifest["keys"].append(
                {
                    "name": name,
                    "id": key.pk,
                    "organization_id": pro_org.pk,
                    "scope": key.scope,
                    "provider": key.provider,
                    "owner_id": key.owner_id,
                    "masked": key.masked,
                    "fingerprint": key.fingerprint,
                    "plaintext": STORED_KEYS[name],
                }
            )
        tokens = {}
        for name, scope, expires in (
            ("Reporting (read)", ApiToken.Scope.READ, None),
            (
                "Pipeline (read & write)",
                ApiToken.Scope.READ_WRITE,
                dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
            ),
            ("Retired integration", ApiToken.Scope.READ_WRITE, None),
        ):
            token, raw = token_services.api_token_create(
                organization=pro_org, actor=pro_owner, name=name, scope=scope, expires_at=expires
            )
            tokens[name] = (token, raw)
        token_services.api_token_revoke(
            token=tokens["Retired integration"][0], actor=pro_owner, reason="fixture: retired"
        )
        for name, (token, raw) in tokens.items():
            token.refresh_from_db()
            self.manifest["tokens"].append(
                {
                    "name": name,
                    "id": token.pk,
                    "organization_id": pro_org.pk,
                    "raw": raw,
                    "scope": token.scope,
                    "revoked": token.revoked_at is not None,
                }
            )

        from django.test import Client

        api = Client()
        write_raw = tokens["Pipeline (read & write)"][1]
        response = api.post(
            "/api/v1/generations/",
            data=json.dumps(
                {
                    "requirement": REQUIREMENT.format(tag="pro-api-stored"),
                    "key_source": "stored",
                    "provider": "openai",
                }
            ),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {write_raw}",
            HTTP_IDEMPOTENCY_KEY="fixture-pro-api-0001",
        )
        assert response.status_code == 202, (response.status_code, response.content[:2000])
        g = Generation.objects.get(pk=response.json()["id"])
        assert self.fake.requests[-1].api_key == STORED_KEYS["pro_org_openai"]
        self.record_generation(
            g,
            label="pro_api_org_key",
            owner_email="owner.pro@upgrade.test",
            key=STORED_KEYS["pro_org_openai"],
        )
        g = self.generate_page(
            "member.pro@upgrade.test", key_choice="anthropic", tag="pro-personal"
        )
        assert self.fake.requests[-1].api_key == STORED_KEYS["pro_member_anthropic"]
        self.record_generation(
            g,
            label="pro_personal_key",
            owner_email="member.pro@upgrade.test",
            key=STORED_KEYS["pro_member_anthropic"],
        )
        g = self.generate_page(
            "owner.pro@upgrade.test",
            key_choice="platform",
            tag="pro-starter",
            template="content-marketing",
        )
        g = self.record_generation(
            g, label="pro_starter_template", owner_email="owner.pro@upgrade.test"
        )
        response = self.clients["owner.pro@upgrade.test"].post(
            f"/generations/{g.pk}/save-template/",
            {"name": "Competitor digest", "description": "Saved by the upgrade fixture"},
        )
        assert response.status_code == 302, response.status_code
        from generation.models import CrewTemplate

        custom = CrewTemplate.objects.get(organization=pro_org)
        g = self.generate_page(
            "owner.pro@upgrade.test", key_choice="platform", tag="pro-custom", template=custom.slug
        )
        self.record_generation(g, label="pro_custom_template", owner_email="owner.pro@upgrade.test")

        # Enterprise: operator overrides, white-label (logo, colours, custom domain), an
        # organisation Anthropic key and an advanced model on the platform key.
        ent_owner = self.sign_up("owner.ent@upgrade.test")
        ent_org = accounts_services.organization_create(name="Enterprise Corp", owner=ent_owner)
        self.org("enterprise", ent_org, "enterprise")
        billing_services.billing_plan_assign(
            organization=ent_org, plan=plans["enterprise"], actor=operator
        )
        # what an operator sets in Billing → Billing accounts (the admin saves the model)
        account = BillingAccount.objects.get(organization=ent_org)
        account.generations_override = 500
        account.comped_generations = 20
        account.max_members_override = 250
        account.daily_cap = 400
        account.save()
        self.switch("owner.ent@upgrade.test", ent_org)
        from django.core.files.uploadedfile import SimpleUploadedFile

        logo = _logo_png()
        response = self.clients["owner.ent@upgrade.test"].post(
            "/settings/branding/",
            {
                "brand_name": "Enterprise Crews",
                "primary_color": "#0b5394",
                "accent_color": "#f1c232",
                "custom_domain": "crews.enterprise-corp.test",
                "logo": SimpleUploadedFile("logo.png", logo, content_type="image/png"),
            },
        )
        assert response.status_code == 302, (response.status_code, response.content[:2000])
        served = Client().get(f"/branding/{ent_org.uuid}/logo.png")
        assert served.status_code == 200, served.status_code
        served = _body(served)
        from accounts.models import OrganizationBranding

        branding = OrganizationBranding.objects.get(organization=ent_org)
        self.manifest["logos"].append(
            {
                "organization_uuid": str(ent_org.uuid),
                "file": branding.logo.name,
                "sha256": _sha(served),
                "bytes": len(served),
            }
        )
        ent_key = key_services.provider_key_store(
            organization=ent_org,
            actor=ent_owner,
            provider="anthropic",
            api_key=STORED_KEYS["ent_org_anthropic"],
            label="Corp Anthropic",
        )
        self.manifest["keys"].append(
            {
                "name": "ent_org_anthropic",
                "id": ent_key.pk,
                "organization_id": ent_org.pk,
                "scope": ent_key.scope,
                "provider": ent_key.provider,
                "owner_id": None,
                "masked": ent_key.masked,
                "fingerprint": ent_key.fingerprint,
                "plaintext": STORED_KEYS["ent_org_anthropic"],
            }
        )
        token, raw = token_services.api_token_create(
            organization=ent_org,
            actor=ent_owner,
            name="Corp automation",
            scope=ApiToken.Scope.READ_WRITE,
        )
        self.manifest["tokens"].append(
            {
                "name": "Corp automation",
                "id": token.pk,
                "organization_id": ent_org.pk,
                "raw": raw,
                "scope": token.scope,
                "revoked": False,
            }
        )
        g = self.generate_page("owner.ent@upgrade.test", key_choice="anthropic", tag="ent-org-key")
        assert self.fake.requests[-1].api_key == STORED_KEYS["ent_org_anthropic"]
        self.record_generation(
            g,
            label="ent_org_key",
            owner_email="owner.ent@upgrade.test",
            key=STORED_KEYS["ent_org_anthropic"],
        )
        g = self.generate_page(
            "owner.ent@upgrade.test",
            key_choice="platform",
            tag="ent-advanced",
            model="openai:gpt-4o",
        )
        self.record_generation(
            g, label="ent_platform_advanced", owner_email="owner.ent@upgrade.test"
        )

        # A visitor's "try it" generation on a one-time key (holding organisation).
        guest_pass, _token = guest.guest_generation_start(
            requirement=REQUIREMENT.format(tag="guest"),
            provider="openai",
            api_key=ONE_TIME_KEYS["guest_one_time_openai"],
            ip="203.0.113.7",
        )
        self.manifest["guest_generation_id"] = str(guest_pass.generation_id)
        return self.manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where to write the manifest (JSON)")
    args = parser.parse_args()

    # The fake provider of the checked-out release, started before settings are read.
    from tests.fakes.llm import FakeLLM

    fake = FakeLLM().start()
    os.environ["OPENAI_BASE_URL"] = fake.openai_base_url
    os.environ["ANTHROPIC_BASE_URL"] = fake.anthropic_base_url
    os.environ["OPENAI_API_KEY"] = PLATFORM_OPENAI_KEY
    os.environ["ANTHROPIC_API_KEY"] = PLATFORM_ANTHROPIC_KEY
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crewbuilder.settings")

    import django

    django.setup()
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    populator = Populator(fake)
    manifest = populator.run()
    fake.stop()

    recorder = MigrationRecorder(connection)
    manifest["migrations"] = sorted([app, name] for app, name in recorder.applied_migrations())
    manifest["platform_keys"] = {"openai": PLATFORM_OPENAI_KEY, "anthropic": PLATFORM_ANTHROPIC_KEY}
    manifest["snapshot"] = _load_snapshot_module().snapshot(apps)
    Path(args.out).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"populated: {sum(len(rows) for rows in manifest['snapshot'].values())} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
