from __future__ import annotations

from django import forms

from crewbuilder.webhooks.models import EventType
from crewbuilder.webhooks.services import MAX_OVERLAP_HOURS


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/crewbuilder/webhook"}),
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=EventType.values,
        error_messages={"required": "Choose at least one event."},
    )
    description = forms.CharField(max_length=200, required=False)


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        label="Keep the old secret signing for (hours)",
        min_value=0,
        max_value=MAX_OVERLAP_HOURS,
        initial=24,
        help_text="0 stops the old secret at once (use it if the secret leaked).",
    )
