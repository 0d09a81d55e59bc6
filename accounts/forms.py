from __future__ import annotations

from datetime import date
from typing import cast

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
            role = cast(forms.ChoiceField, self.fields["role"])
            role.choices = [(r.value, r.label) for r in INVITABLE_ROLES if r.value in grantable]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120, min_length=2)


class SwitchOrganizationForm(forms.Form):
    organization = forms.IntegerField()


class AuditFilterForm(forms.Form):
    action = forms.RegexField(
        regex=r"^[a-z_]+(\.[a-z_]*)*$",
        max_length=64,
        required=False,
        error_messages={"invalid": "Actions look like “membership.role_changed”."},
    )
    actor = forms.CharField(max_length=254, required=False)
    since = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    until = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if until and until >= date.max:
            self.add_error("until", "Enter a date before 9999-12-31.")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data


class BrandingForm(forms.Form):
    brand_name = forms.CharField(max_length=80, required=False)
    primary_color = forms.CharField(
        max_length=7, required=False, widget=forms.TextInput(attrs={"placeholder": "#4f46e5"})
    )
    accent_color = forms.CharField(
        max_length=7, required=False, widget=forms.TextInput(attrs={"placeholder": "#067647"})
    )
    custom_domain = forms.CharField(
        max_length=253,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "crews.example.com"}),
    )
    logo = forms.FileField(required=False)
    remove_logo = forms.BooleanField(required=False)


class AccountDeleteForm(forms.Form):
    CONFIRM_TEXT = "delete my account"

    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    confirm = forms.CharField(max_length=40, help_text=f"Type “{CONFIRM_TEXT}”.")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if self.user is None or not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.")
        return password

    def clean_confirm(self):
        value = self.cleaned_data["confirm"].strip().lower()
        if value != self.CONFIRM_TEXT:
            raise forms.ValidationError(f"Type “{self.CONFIRM_TEXT}” to confirm.")
        return value


class OrganizationDeleteForm(forms.Form):
    confirm = forms.CharField(max_length=120)


class UsagePeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        choices=[(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")],
        coerce=int,
        required=False,
        empty_value=30,  # type: ignore[arg-type]  # the stubs allow only str; Django any value
        error_messages={"invalid_choice": "Choose 7, 30 or 90 days."},
    )
