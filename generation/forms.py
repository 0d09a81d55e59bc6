"""Forms of the generation pages. They only parse the page's shape (which key option,
which model); the rules (lengths, catalogue, key availability, plan) live in
``generation.services`` and come back as field errors."""

from __future__ import annotations

from django import forms

from crewbuilder.providers import PROVIDERS, Provider
from generation.requirements import requirement_limits
from keys.services import platform_key

PROVIDER_CHOICES = Provider.choices
KEY_CHOICES = [
    ("platform", "CrewBuilder AI"),
    *((provider, f"My {label} key") for provider, label in PROVIDER_CHOICES),
    ("one_time", "One-time key"),
]
# service field → form field the message belongs to
SERVICE_FIELDS = {"key_source": "key_choice", "provider": "key_choice"}


def platform_provider() -> str:
    """Which provider "CrewBuilder AI" uses when no model is chosen."""
    for provider, _label in PROVIDER_CHOICES:
        if platform_key(provider):
            return provider
    return "openai"


class GenerateForm(forms.Form):
    requirement = forms.CharField(
        required=False,
        strip=True,
        widget=forms.Textarea(
            attrs={
                "rows": 7,
                "placeholder": "e.g. Every Monday, research our three main competitors' "
                "pricing pages and write a one-page summary for the sales team.",
            }
        ),
    )
    template = forms.CharField(required=False)
    key_choice = forms.ChoiceField(choices=KEY_CHOICES, initial="platform")
    one_time_provider = forms.ChoiceField(
        choices=PROVIDER_CHOICES, required=False, initial="openai"
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False,
            # keycrypt.js encrypts it in the browser before the form is posted
            attrs={"autocomplete": "off", "spellcheck": "false", "data-keycrypt": "1"},
        ),
    )
    model = forms.CharField(required=False)

    def __init__(self, *args, models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.models = list(models)
        self.fields["requirement"].widget.attrs["maxlength"] = str(requirement_limits()[1])

    def clean(self):
        data = super().clean()
        choice = data.get("key_choice")
        model_provider, model_name = None, None
        if data.get("model"):
            model_provider, _, model_name = data["model"].partition(":")
            if not model_name:
                model_provider, model_name = None, data["model"]
        if choice == "platform":
            key_source, provider = "platform", model_provider or platform_provider()
        elif choice in PROVIDERS:
            key_source, provider = "stored", choice
        else:
            key_source = "one_time"
            provider = data.get("one_time_provider") or model_provider or "openai"
        if model_provider and model_provider != provider:
            labels = dict(PROVIDER_CHOICES)
            self.add_error(
                "model",
                f"{model_name} is an {labels.get(model_provider, model_provider)} model; "
                f"choose an {labels[provider]} model or the default.",
            )
        if key_source != "one_time":
            data["api_key"] = ""  # typed, then another option chosen: never sent on
        data["key_source"] = key_source
        data["provider"] = provider
        data["model_name"] = model_name or None
        return data


class AnswersForm(forms.Form):
    """One text field per clarifying question (answer_0 … answer_2)."""

    def __init__(self, *args, questions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for i, question in enumerate(self.questions):
            self.fields[f"answer_{i}"] = forms.CharField(
                label=question,
                required=False,
                strip=True,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def answers(self) -> dict[str, str]:
        return {q: self.cleaned_data.get(f"answer_{i}", "") for i, q in enumerate(self.questions)}


class SaveTemplateForm(forms.Form):
    name = forms.CharField(required=False, strip=True)
    description = forms.CharField(required=False, strip=True)
