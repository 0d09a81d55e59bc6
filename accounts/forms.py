from __future__ import annotations

from django import forms

from accounts.models import Role
from accounts.permissions import INVITABLE_ROLES


class InvitationForm(forms.Form):
    email = forms.EmailField(
        max_length=254, widget=forms.EmailInput(attrs={"placeholder": "colleague@company.com"})
    )
    role = forms.ChoiceField(
        choices=[(role.value, role.label) for role in INVITABLE_ROLES], initial=Role.MEMBER
    )

    def __init__(self, *args, grantable: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if grantable is not None:
            # Offer only what the inviter may grant; the service re-checks regardless.
            self.fields["role"].choices = [
                (value, label) for value, label in self.fields["role"].choices if value in grantable
            ]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120, min_length=2)


class SwitchOrganizationForm(forms.Form):
    organization = forms.IntegerField()
