from __future__ import annotations

from django import forms


class PlanCheckoutForm(forms.Form):
    plan = forms.SlugField(max_length=40)


class CreditsCheckoutForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, max_value=100, initial=1)
