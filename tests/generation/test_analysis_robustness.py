"""Requirement analysis on text as customers really type it: hard-wrapped paragraphs,
self-descriptions, Japanese without spaces, Romance imperatives with pronouns attached,
schedules in more languages. Each test is one general rule, not one customer's text."""

from __future__ import annotations

import pytest

from generation.analysis import analyse


def kinds(requirement: str) -> list[str]:
    return [s.kind for s in analyse(requirement).steps]


def test_hard_wrapped_paragraphs_are_rejoined():
    a = analyse(
        "Find every order that shipped late during the\n"
        "last month and draft an apology email for\n"
        "each customer."
    )
    assert [s.kind for s in a.steps] == ["research", "write"]
    assert "during the last month" in a.steps[0].text
    assert a.steps[1].text.endswith("for each customer")


def test_one_instruction_per_line_stays_separate():
    assert kinds("Read leads.csv\nScore each lead\nEmail me the top 5 leads") == [
        "read",
        "analyse",
        "send",
    ]


def test_a_full_stop_after_a_url_ends_the_sentence():
    a = analyse("Watch https://example.com/blog. Every Friday email me what changed.")
    assert a.urls == ("https://example.com/blog",)
    assert [s.kind for s in a.steps] == ["monitor", "send"]


@pytest.mark.parametrize(
    "text",
    [
        "Wir sind eine Kanzlei in München und prüfen viele Verträge. Fasse vertrag.md zusammen.",
        "We are a small law firm and review lots of NDAs. Summarise nda.md for me.",
    ],
)
def test_a_self_description_joined_by_and_is_context_not_a_step(text):
    assert kinds(text) == ["summarise"]


def test_japanese_the_verb_that_closes_the_clause_is_the_action():
    # 要約 (summary) is a noun here; 送信 (send) is what the user asks for.
    assert kinds("議事録の要約をメールで送信してください") == ["send"]


def test_names_written_next_to_japanese_text_are_found():
    a = analyse("sales.csvの数字を分析して、Notionに記録してください")
    assert [(f.name, f.direction) for f in a.files] == [("sales.csv", "input")]
    assert [s.key for s in a.services] == ["notion"]


def test_a_file_name_at_the_start_of_a_clause_is_not_a_verb():
    assert "post" not in kinds("チケットを要約し、posts.mdに保存してください")


@pytest.mark.parametrize(
    ("text", "cron"),
    [
        ("Toda segunda-feira às 9h, resuma as vendas", "0 9 * * 1"),
        ("Todos os dias às 7h envie um resumo", "0 7 * * *"),
        ("Ogni venerdì alle 17 riassumi i ticket", "0 17 * * 5"),
        ("Ogni mattina controlla il sito", "0 8 * * *"),
        ("Elke maandag om 9 uur stuur een rapport", "0 9 * * 1"),
        ("Monday to Friday at 6pm summarise the new tickets", "0 18 * * 1-5"),
        ("Chaque lundi à 9h30, résume les ventes", "30 9 * * 1"),
        ("Summarise sales every week on Tuesdays 18h", "0 18 * * 2"),
    ],
)
def test_schedules_in_more_languages(text, cron):
    schedule = analyse(text).schedule
    assert schedule is not None and schedule.cron == cron


def test_a_clock_time_is_not_a_quantity():
    a = analyse("Ogni giorno alle 7 controlla il sito e avvisami via email")
    assert a.quantities == ()


def test_schedule_words_of_more_languages_are_not_part_of_the_step():
    a = analyse("Toda sexta-feira às 18h, leia as oportunidades do HubSpot")
    assert a.steps[0].text.startswith("Leia as oportunidades")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Clasifícalos por urgencia y envíame un resumen por correo", ["classify", "send"]),
        ("Resume el informe y guárdalo en resumen.md", ["summarise"]),  # save joins the step
        ("Controlla il sito e avvisami via email", ["review", "send"]),
        ("Verifique o site e envie-me um alerta por email", ["review", "send"]),
    ],
)
def test_imperatives_with_attached_pronouns(text, expected):
    assert kinds(text) == expected


def test_a_save_with_an_attached_pronoun_names_an_output_file():
    a = analyse("Resume el informe y guárdalo en resumen.md")
    assert [(f.name, f.direction) for f in a.files] == [("resumen.md", "output")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Copy new Trello cards into Airtable", ["update"]),
        ("Get the latest prices and flag anything above 100 EUR", ["research", "analyse"]),
        ("Récupère les commandes et détecte les doublons", ["research", "analyse"]),
        ("Produis un rapport des ventes", ["write"]),
        ("Detecta los pedidos duplicados y señala los sospechosos", ["analyse", "review"]),
        ("Schick mir jeden Morgen die neuen Bestellungen", ["send"]),
        ("Individua i clienti inattivi e aggiorna il CRM", ["research", "update"]),
        ("Obtenha os pedidos e detecte fraudes", ["research", "analyse"]),
        ("売上データを取得して、集計してください", ["research", "analyse"]),
    ],
)
def test_everyday_verbs_are_known(text, expected):
    assert kinds(text) == expected
