from __future__ import annotations

from django import forms

from keys.models import ProviderKey


class ProviderKeyForm(forms.Form):
    """Add or replace a key. The key field carries either the key itself (no JavaScript)
    or what keycrypt.js encrypted in the browser (``provider_key_store`` accepts both);
    it is never rendered back. Replacing a stored key needs ``replace`` ticked in the same
    post (the key is typed again, never echoed into the page)."""

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
    replace = forms.BooleanField(label="Replace the saved key", required=False)
