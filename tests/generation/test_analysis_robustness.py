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


# --------------------------------------------------------------------------- file direction


@pytest.mark.parametrize(
    "text",
    [
        "Every Friday I export our orders to orders.csv. Find the late ones and draft apologies.",
        "Our CRM export is dropped into contacts.json each night. Score every contact.",
        "Jeden Abend exportieren wir die Bestellungen nach bestellungen.csv. Fasse sie zusammen.",
    ],
)
def test_a_file_the_user_fills_today_is_an_input(text):
    a = analyse(text)
    assert [f.direction for f in a.files] == ["input"]


def test_a_file_a_description_asks_for_stays_an_output():
    a = analyse("Score the leads. The shortlist should be saved to shortlist.md.")
    assert [(f.name, f.direction) for f in a.files] == [("shortlist.md", "output")]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "Bewerte die Angebote; das Ergebnis soll in ergebnis.md gespeichert werden.",
            "ergebnis.md",
        ),
        ("Crie uma tabela comparativa com preços em concorrentes.md.", "concorrentes.md"),
        ("Output a table with the flagged clauses in review.md.", "review.md"),
        ("レビューを分析して、report.mdに保存してください", "report.md"),
    ],
)
def test_where_a_result_goes_is_an_output(text, name):
    assert [(f.name, f.direction) for f in analyse(text).files] == [(name, "output")]


@pytest.mark.parametrize(
    "text",
    [
        "Write a blog post for each keyword in keywords.csv",
        "Create a summary of the tickets in tickets.csv",
        "Write three posts based on the feature list in features.md",
        "Generate a quiz for each chapter in syllabus.md, with an answer key",
    ],
)
def test_a_source_named_with_in_stays_an_input(text):
    assert [f.direction for f in analyse(text).files] == ["input"]


# --------------------------------------------------------------------------- per item, windows


@pytest.mark.parametrize(
    ("text", "noun"),
    [
        ("Classify each one by urgency and draft a reply for each ticket", "ticket"),
        ("Pour chaque produit, rédige une fiche", "produit"),
        ("Escribe un anuncio para cada propiedad", "propiedad"),
        ("Schreibe für jeden Kunden eine E-Mail", "kunden"),
        ("Scrivi un post per ogni prodotto", "prodotto"),
        ("Rédige un résumé par client", "client"),
    ],
)
def test_one_result_per_item_in_more_phrasings(text, noun):
    assert [o.target for o in analyse(text).outputs if o.kind == "per_item"] == [noun]


def test_sorting_by_a_field_is_not_one_result_per_item():
    assert not [o for o in analyse("Classe-les par priorité").outputs if o.kind == "per_item"]


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("Pull last month's Stripe payouts", "last month's"),
        ("Every morning pull yesterday's new deals", "yesterday's"),
        ("Fasse die Tickets der letzten 7 Tage zusammen", "der letzten 7 Tage"),
        ("Résume les ventes de la semaine dernière", "de la semaine dernière"),
        ("Revisa los pedidos de la semana pasada", "de la semana pasada"),
        ("Liste os pedidos dos últimos 30 dias", "dos últimos 30 dias"),
        ("Riassumi i ticket degli ultimi 7 giorni", "degli ultimi 7 giorni"),
        ("先週のチケットを要約して", "先週"),
    ],
)
def test_time_windows_in_more_languages(text, window):
    assert analyse(text).windows == (window,)


# --------------------------------------------------------------------------- rules, deliverables


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Draft replies to the reviews. Never promise refunds.", "Never promise refunds"),
        ("Write product descriptions; no medical claims.", "No medical claims"),
        (
            "Write the newsletter. Keep the tone warm but professional.",
            "Keep the tone warm but professional",
        ),
        ("Rédige les fiches. Ne mentionne jamais les prix.", "Ne mentionne jamais les prix"),
        ("Escribe los anuncios. No uses emojis.", "No uses emojis"),
        ("Schreibe die Antworten. Keine Preise nennen.", "Keine Preise nennen"),
    ],
)
def test_constraints_are_rules_not_steps(text, rule):
    a = analyse(text)
    assert a.rules == (rule,)
    assert len(a.steps) == 1 and ("Rule", rule) in a.lines()


@pytest.mark.parametrize(
    "text",
    [
        "Every Thursday we want a newsletter draft with the 3 best new listings.",
        "Wir brauchen einen wöchentlichen Bericht über die Verkäufe.",
        "Necesitamos un informe semanal de ventas.",
    ],
)
def test_asking_for_a_thing_is_a_step_that_makes_it(text):
    assert kinds(text) == ["write"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Score the leads. The shortlist should be posted to Slack.", ["analyse", "post"]),
        (
            "Bewerte die Bewerbungen. Die besten 5 sollen in den Slack-Kanal gepostet werden.",
            ["analyse", "post"],
        ),
        ("Analyse les ventes. Le rapport doit être envoyé par email.", ["analyse", "send"]),
        ("Analiza las ventas. El informe debe ser enviado por correo.", ["analyse", "send"]),
        ("Controlla le vendite. Il riepilogo deve essere inviato via email.", ["review", "send"]),
    ],
)
def test_a_request_in_the_passive_is_a_step(text, expected):
    assert kinds(text) == expected


def test_the_item_is_the_noun_after_a_describing_word():
    a = analyse("For each new hire, create a 30-day onboarding plan")
    assert [o.target for o in a.outputs if o.kind == "per_item"] == ["hire"]


def test_a_file_set_off_by_a_comma_at_the_end_of_a_step_is_its_output():
    a = analyse("Compare the orders with the payments and list every unpaid order, in unpaid.csv.")
    assert [(f.name, f.direction) for f in a.files] == [("unpaid.csv", "output")]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Sync new Typeform responses into Airtable", "Typeform"),
        ("Add the new hires from BambooHR to our onboarding list", "BambooHR"),
        ("Pull yesterday's WooCommerce orders", "WooCommerce"),
        ("Summarise our Zoom meeting recordings", "Zoom"),
    ],
)
def test_more_services_are_named(text, label):
    assert label in [s.label for s in analyse(text).services]


def test_a_workday_is_a_schedule_not_a_service():
    a = analyse("Every workday at 9 summarise the new tickets")
    assert a.schedule is not None and a.schedule.cron == "0 9 * * 1-5"
    assert a.services == ()


def test_an_english_article_is_not_a_destination_for_a_service():
    a = analyse("I run a small Shopify store selling teas. Summarise last week's orders.")
    assert [(s.label, s.actions) for s in a.services] == [("Shopify", ("mention",))]
    assert not [o for o in a.outputs if o.kind == "service"]
    assert analyse("Envoie un résumé en Notion").services[0].actions == ("post",)
