from __future__ import annotations

from django import forms

from keys.models import ProviderKey
from keys.transport import is_transport_payload, transport_decrypt


class ProviderKeyForm(forms.Form):
    """Add or replace a key. The key field accepts either the key itself (no JavaScript)
    or what keycrypt.js encrypted in the browser; it is never rendered back."""

    provider = forms.ChoiceField(choices=ProviderKey.Provider.choices)
    scope = forms.ChoiceField(choices=ProviderKey.Scope.choices)
    api_key = forms.CharField(
        label="API key",
        max_length=4096,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "off", "spellcheck": "false", "data-keycrypt": "1"},
        ),
    )
    label = forms.CharField(max_length=80, required=False)

    def clean_api_key(self) -> str:
        value = self.cleaned_data["api_key"]
        if is_transport_payload(value):
            try:
                value = transport_decrypt(value)
            except forms.ValidationError as exc:
                raise forms.ValidationError(exc.message_dict["api_key"]) from None
        return value
