from __future__ import annotations

from django import forms


class PlanCheckoutForm(forms.Form):
    plan = forms.SlugField(max_length=40)


class CreditsCheckoutForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=100, initial=1)


class GuestStartForm(forms.Form):
    PAY_CHOICES = [
        ("one_time", "Use my own API key once (free)"),
        ("checkout", "Pay $5 — CrewBuilder AI does it"),
    ]
    requirement = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=20000)
    provider = forms.ChoiceField(choices=[("openai", "OpenAI"), ("anthropic", "Anthropic")])
    pay_with = forms.ChoiceField(choices=PAY_CHOICES, widget=forms.RadioSelect, initial="one_time")
    api_key = forms.CharField(
        required=False,
        max_length=300,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Used for this generation only and never stored.",
    )

    def clean(self):
        data = super().clean()
        if data.get("pay_with") == "one_time" and not data.get("api_key"):
            self.add_error("api_key", "Paste your API key, or choose to pay $5 instead.")
        return data
