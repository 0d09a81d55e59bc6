"""The requirement analysis: pure, deterministic, multilingual."""

from __future__ import annotations

import pytest

from generation.analysis import analyse


def kinds(requirement: str) -> list[str]:
    return [s.kind for s in analyse(requirement).steps]


def test_steps_are_the_users_clauses_in_order():
    a = analyse("Triage new GitHub issues and label them")
    assert [(s.text, s.kind) for s in a.steps] == [
        ("Triage new GitHub issues", "classify"),
        ("Label them", "label"),
    ]


def test_descriptive_sentences_are_context_not_steps():
    a = analyse("We are a small agency in Porto. Read leads.csv and score each lead.")
    assert a.context == ("We are a small agency in Porto.",)
    assert kinds("We are a small agency in Porto. Read leads.csv and score each lead.") == [
        "read",
        "analyse",
    ]


def test_third_person_verbs_become_imperative_steps():
    a = analyse("I want a crew that reads leads.csv, scores each lead and drafts replies")
    assert [s.text for s in a.steps] == ["Read leads.csv", "Score each lead", "Draft replies"]


@pytest.mark.parametrize(
    ("text", "files"),
    [
        ("Write SEO blog posts from keywords.csv", [("keywords.csv", "csv", "input")]),
        (
            "Check policy.md and requirements.txt against GDPR",
            [("policy.md", "text", "input"), ("requirements.txt", "text", "input")],
        ),
        (
            "Analyse sales.xlsx and save the summary to summary.md",
            [
                ("sales.xlsx", "spreadsheet", "input"),
                ("summary.md", "text", "output"),
            ],
        ),
        ("Read https://example.com/robots.txt and report", []),
    ],
)
def test_named_files_and_their_direction(text, files):
    assert [(f.name, f.kind, f.direction) for f in analyse(text).files] == files


def test_urls_services_and_outputs():
    a = analyse(
        "Every weekday at 7:30am read https://example.com/news, post a digest to Slack and "
        "add the highlights to Notion"
    )
    assert a.urls == ("https://example.com/news",)
    assert {s.key: s.supported for s in a.services} == {"slack": True, "notion": False}
    assert [o.kind for o in a.outputs] == ["slack", "service"]
    assert a.schedule.cron == "30 7 * * 1-5"


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("Every Monday at 8 send me the report", "0 8 * * 1"),
        ("every friday at 5pm summarise the week", "0 17 * * 5"),
        ("Daily, check the inbox", "0 8 * * *"),
        ("Run monthly and compare prices", "0 8 1 * *"),
        ("Jeden Montag um 9 Uhr Preise prüfen", "0 9 * * 1"),
        ("Chaque lundi à 8h, résume les nouvelles", "0 8 * * 1"),
        ("Todos los lunes a las 10 revisa los precios", "0 10 * * 1"),
        ("毎週月曜日の朝8時に価格を調べて", "0 8 * * 1"),
    ],
)
def test_schedules_become_cron_lines(text, cron):
    assert analyse(text).schedule.cron == cron


def test_no_schedule_when_none_is_asked():
    assert analyse("Research EV batteries and write a report").schedule is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Research the market and write a report for our team", "en"),
        (
            "Recherchiere jeden Montag die Preise unserer Konkurrenten und schreibe einen Bericht",
            "de",
        ),  # noqa: E501
        ("Chaque lundi, recherche les prix de nos concurrents et rédige un rapport", "fr"),
        ("Cada lunes investiga los precios de nuestros competidores y escribe un informe", "es"),
        ("毎週月曜日に競合の価格を調べて要約してください", "ja"),
        ("为我们的电子商务网站撰写产品描述", "zh"),
        ("Разработать команду для анализа рынка недвижимости", "ru"),
    ],
)
def test_language_is_detected(text, language):
    assert analyse(text).language == language


def test_an_explicit_output_language_wins():
    a = analyse("Draft replies to each lead in Portuguese")
    assert (a.language, a.output_language) == ("en", "pt")


def test_email_is_a_service_only_when_something_is_sent_or_read():
    assert [o.target for o in analyse("Summarise the news and email me").outputs] == ["you"]
    assert analyse("Write an email template for onboarding").services == ()
    (service,) = analyse("Answer customer emails about late deliveries").services
    assert service.actions == ("read",)


def test_quantities_windows_and_per_item_outputs():
    a = analyse("Find 10 leads since last week and write one post per keyword")
    assert [(q.number, q.noun) for q in a.quantities] == [(10, "leads")]
    assert a.windows == ("since last week",)
    assert a.output("per_item").target == "keyword"


def test_analysis_is_deterministic_and_never_carries_a_pasted_key():
    secret = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234"
    a = analyse(f"Summarise the news with key {secret}")
    assert secret not in repr(a)
    assert analyse("Read a.csv") == analyse("Read a.csv")


@pytest.mark.parametrize("text", ["", "   ", "🙂🚀", "x", "{topic}", "a" * 30000])
def test_odd_input_still_analyses(text):
    a = analyse(text)
    assert isinstance(a.lines(), list)
