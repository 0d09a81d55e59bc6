from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.models import Membership, Organization, Role, User


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            # allauth's record of a verified address, as after a real confirmation
            from allauth.account.models import EmailAddress

            EmailAddress.objects.get_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


def plan_assign(organization: Organization, slug: str) -> None:
    """Give an organisation a plan as an operator would (billing's admin assignment): e.g.
    "professional" for tests that need CrewBuilder AI quota, API access or 10 seats.
    Organisations without one are on Free (own keys only, 1 member)."""
    from billing import services
    from billing.models import Plan

    services.plans_seed()  # a transactional test may have flushed the seeded rows
    services.billing_plan_assign(
        organization=organization, plan=Plan.objects.get(slug=slug), actor=None
    )
