"""Requirement analysis: what the user asked for, read from the text alone.

Deterministic and pure (no LLM, no database, no network): the same text always gives the
same analysis. It extracts the steps (clauses that start with an action, in order), the
files, folders and URLs the user named, the services (GitHub, Slack, email, Notion, …),
the requested outputs and where they go, a schedule, the language, quantities and time
windows. Both designers build from it, the fit check (``generation/fit.py``) checks a
design against it, and the generation page shows it as "What we understood".

The vocabulary lives in ``generation/designer_data/*.yaml`` so it can be reviewed as data.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from crewbuilder.redaction import REDACTED, redact

DATA_DIR = Path(__file__).resolve().parent / "designer_data"
MAX_TEXT = 20_000
MAX_STEPS = 12

URL = re.compile(r"https?://[^\s<>\"'{}()\[\]]+", re.I)
FILE_EXTENSIONS = {
    "csv": "csv",
    "tsv": "csv",
    "xlsx": "spreadsheet",
    "xls": "spreadsheet",
    "json": "json",
    "jsonl": "json",
    "txt": "text",
    "md": "text",
    "markdown": "text",
    "pdf": "pdf",
    "docx": "document",
    "doc": "document",
    "yaml": "text",
    "yml": "text",
    "xml": "text",
    "html": "text",
    "eml": "text",
    "log": "text",
    "ics": "text",
}
# A letter or digit of a script written with spaces. Japanese and Chinese put no space
# between a Latin name and the next word ("products.csvの", "Zendeskの"), so their
# characters end a file name or a service name instead of continuing it.
WORD_CHAR = "[^\\W\u2e80-\U0010ffff]"
NAME_CHAR = "(?:" + WORD_CHAR + "|-)"
FILE = re.compile(
    r"(?<![/.@-])(?<!"
    + WORD_CHAR
    + r")((?:"
    + NAME_CHAR
    + r"+/)*"
    + NAME_CHAR
    + r"(?:"
    + NAME_CHAR
    + r"|\.)*\.(?:"
    + "|".join(FILE_EXTENSIONS)
    + r"))"
    r"(?![/])(?!" + WORD_CHAR + r")",
    re.I | re.UNICODE,
)
FOLDER = re.compile(
    r"(?:(?<=\s)|^)`?((?:[\w\-]+/)+)`?(?=[\s,.;:)]|$)"
    r"|\b(?!(?:the|a|an|our|my|your|this|that|same|shared|output)\b)([\w\-]+)\s+(?:folder|directory)\b"
    r"|\b(?:folder|directory|dossier|ordner|carpeta)\s+(?:named|called|nommé|namens|llamada)\s+[`\"']?([\w\-]+)",
    re.I | re.UNICODE,
)
OUTPUT_CUE = re.compile(
    r"\b(?:save|saved|saving|store|export|write|writes|written|output|put|into|as|to|produce|generate|create|"
    r"speichere|speichern|enregistre|guarda|in a file|file called|file named)\s+"
    r"(?:(?:it|them|this|that|everything|all|the\s+\w+|results?|a\s+file|the\s+file|a|an|in|on)\s+){0,3}$",
    re.I,
)
# A save verb right after the file name (German and Japanese put it last).
SAVED_AFTER = re.compile(
    r"^\s*(?:[^\W\d_]+\s+){0,2}?(?:gespeichert|speichern|abspeichern|abgelegt|ablegen|"
    r"geschrieben|exportiert|enregistr\w*|sauvegard\w*|guardad\w*|salvad\w*|salvat\w*|"
    r"saved|stored|written|exported)\b"
    r"|^\s*(?:に|へ)(?:保存|書き出|出力|書い|書き込)",
    re.I,
)
# A request, as opposed to a description of how things are today.
REQUEST_CUE = re.compile(
    r"\b(?:should|must|shall|has\s+to|have\s+to|needs?|wants?|would\s+like|please|soll|sollen|"
    r"sollte|sollten|muss|müssen|bitte|doit|doivent|devrait|devraient|faut|debe|deben|"
    r"debería|deberían|deve|devem|deveria|dovrebbe|dovrebbero|devono|moet|moeten)\b",
    re.I,
)
# Someone other than the crew does it today ("we export …", "our export is dropped into …").
SOMEONE_DOES = re.compile(
    r"\b(?:i|we|our|my|they|someone|ich|wir|unser\w*|je|nous|notre|nos|yo|nosotros|"
    r"nuestr\w+|eu|nós|noss\w+|io|noi|nostr\w+|ik|wij|onze?)\b",
    re.I,
)
INPUT_CUE = re.compile(
    r"\b(?:from|read|reads|reading|in|using|with|load|loads|open|based on|aus|von|depuis|de|desde|lee|lies)\s+(?:the\s+|our\s+|my\s+)?$",
    re.I,
)
SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|\n+|(?<=[。！？])")
CLAUSE_SPLIT = re.compile(r"\s*;\s*|\s*,?\s+(?:and\s+then|then|und\s+dann|puis|luego|y\s+luego)\s+")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
EMAIL_ADDRESS = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# "for each new hire": the item is the noun after a describing word.
ITEM_ADJECTIVE = (
    r"(?:(?:new|open|closed|single|individual|active|inactive|incoming|unpaid|overdue|late|"
    r"negative|positive|unhappy|selected|qualified|existing|current|upcoming)\s+)?"
)
PER_ITEM = re.compile(
    r"\b(?:one|a|an|1)\s+(?:\w+\s+){0,2}(?:per|for each|for every)\s+" + ITEM_ADJECTIVE + r"(\w+)"
    r"|\b(?:for each|for every)\s+" + ITEM_ADJECTIVE + r"(\w+)"
    r"|\bpro\s+(\w+)|\b(?:für|fuer)\s+(?:jede[nrs]?)\s+(\w+)"
    # French "par" means "by" ("classe par priorité") unless one thing is made per item
    r"|\b(?:un|une|1)\s+(?:\w+\s+){0,2}par\s+(?!e-?mail|courriel)(\w+)"
    r"|\bpour\s+(?:chaque|chacun\w*\s+de[s]?)\s+(\w+)"
    r"|\b(?:por|para)\s+cada\s+(\w+)|\bper\s+(?:ogni|ciascun[oa]?)\s+(\w+)"
    r"|\bvoor\s+(?:elke|ieder[e]?)\s+(\w+)",
    re.I,
)
WINDOW = re.compile(
    r"\b(since\s+(?:last\s+\w+|yesterday|the\s+last\s+\w+|\w+day)"
    r"|(?:in|from|over|during)\s+the\s+(?:last|past)\s+(?:\d+\s+|few\s+)?(?:hours?|days?|weeks?|months?)"
    r"|(?:last|past)\s+\d+\s+(?:hours?|days?|weeks?|months?)"
    r"|seit\s+letzter\s+woche|seit\s+gestern|depuis\s+la\s+semaine\s+derni[èe]re|desde\s+la\s+semana\s+pasada)",
    re.I,
)
QUANTITY = re.compile(
    r"\b(?:top\s+)?(\d{1,4})\s+(?!(?:am|pm|a\.m|p\.m|h|uhr|hours?|minutes?|days?|weeks?|months?|years?|%)\b)([^\W\d_][\w\-]*)",
    re.I | re.UNICODE,
)

CONSUMING_KINDS = frozenset(
    {
        "read",
        "analyse",
        "classify",
        "summarise",
        "review",
        "extract",
        "reply",
        "translate",
        "monitor",
    }
)
NOT_ITEMS = frozenset(
    {
        "month",
        "week",
        "day",
        "hour",
        "year",
        "cent",
        "email",
        "mail",
        "e",
        "semaine",
        "mois",
        "jour",
        "one",
        "of",
        "time",
        "run",
    }
)
WEEKDAYS = {
    # English, German, French, Spanish, Japanese → cron day of week
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
    "sunday": 0,  # noqa: E501
    "montag": 1,
    "dienstag": 2,
    "mittwoch": 3,
    "donnerstag": 4,
    "freitag": 5,
    "samstag": 6,
    "sonntag": 0,  # noqa: E501
    "lundi": 1,
    "mardi": 2,
    "mercredi": 3,
    "jeudi": 4,
    "vendredi": 5,
    "samedi": 6,
    "dimanche": 0,
    "lunes": 1,
    "martes": 2,
    "miércoles": 3,
    "miercoles": 3,
    "jueves": 4,
    "viernes": 5,
    "sábado": 6,
    "domingo": 0,  # noqa: E501
    # Portuguese, Italian, Dutch
    "segunda-feira": 1,
    "terça-feira": 2,
    "terca-feira": 2,
    "quarta-feira": 3,
    "quinta-feira": 4,
    "sexta-feira": 5,
    "lunedì": 1,
    "lunedi": 1,
    "martedì": 2,
    "martedi": 2,
    "mercoledì": 3,
    "mercoledi": 3,
    "giovedì": 4,
    "giovedi": 4,
    "venerdì": 5,
    "venerdi": 5,
    "sabato": 6,
    "domenica": 0,
    "maandag": 1,
    "dinsdag": 2,
    "woensdag": 3,
    "donderdag": 4,
    "vrijdag": 5,
    "zaterdag": 6,
    "zondag": 0,
}
# "every Monday", "jeden Montag", "toda sexta-feira", "ogni lunedì", "elke maandag"
EVERY = (
    r"every|each|on|jeden|jede|chaque|tous\s+les|cada|todos\s+los|toda|todo|todas\s+as|"
    r"todos\s+os|às|as|ogni|il|tutti\s+i|elke|iedere|op"
)
# "at 8", "um 8 Uhr", "à 9h", "a las 10", "às 18h", "alle 7", "om 8 uur"
AT_TIME = r"at|um|à|a\s+las|a\s+la|às|as|alle|om"
WORKWEEK = re.compile(
    r"\b(?:monday|montag|lundi|lunes|segunda(?:-feira)?|luned[iì]|maandag)\s+"
    r"(?:to|through|thru|-|–|bis|à|au|a|até|al|tot)\s+"
    r"(?:friday|freitag|vendredi|viernes|sexta(?:-feira)?|venerd[iì]|vrijdag)\b",
    re.I,
)
WEEKDAYS_JA = {"月曜": 1, "火曜": 2, "水曜": 3, "木曜": 4, "金曜": 5, "土曜": 6, "日曜": 0}
WEEKDAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@functools.cache
def _data(name: str) -> dict:
    with (DATA_DIR / f"{name}.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def lexicon() -> dict:
    return _data("lexicon")


def services_catalogue() -> dict:
    return _data("services")


def roles_data() -> dict:
    return _data("roles")


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class NamedFile:
    name: str  # as written, e.g. "leads.csv" or "reports/q3.xlsx"
    kind: str  # csv | spreadsheet | json | text | pdf | document
    direction: str  # input | output

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ServiceUse:
    key: str
    label: str
    supported: bool
    actions: tuple[str, ...]  # read | send | label | post | update | mention
    env_var: str


@dataclass(frozen=True)
class OutputSpec:
    kind: str  # email | slack | file | github_label | per_item | service
    target: str  # recipient, file name, noun ("keyword"), or service label
    text: str  # the words that asked for it


@dataclass(frozen=True)
class ScheduleSpec:
    text: str
    cron: str
    description: str


@dataclass(frozen=True)
class Quantity:
    number: int
    noun: str
    word: str = ""  # "three" when written as a word


@dataclass(frozen=True)
class StepSpec:
    text: str  # the user's clause, lead-ins removed
    kind: str
    files: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    inferred: bool = False  # no action verb found: the kind was guessed from nouns


@dataclass(frozen=True)
class Analysis:
    text: str  # the normalised requirement (secrets redacted)
    language: str
    language_name: str
    output_language: str  # the language outputs must be written in
    output_language_name: str
    steps: tuple[StepSpec, ...]
    context: tuple[str, ...]  # sentences that describe rather than ask
    files: tuple[NamedFile, ...]
    folders: tuple[str, ...]
    urls: tuple[str, ...]
    services: tuple[ServiceUse, ...]
    outputs: tuple[OutputSpec, ...]
    schedule: ScheduleSpec | None
    quantities: tuple[Quantity, ...]
    windows: tuple[str, ...]
    subject: str
    recipients: tuple[str, ...] = field(default=())
    # What the results must (not) do: "Don't include diagnoses", "Keep the tone warm".
    rules: tuple[str, ...] = field(default=())

    @property
    def input_files(self) -> list[NamedFile]:
        return [f for f in self.files if f.direction == "input"]

    @property
    def output_files(self) -> list[NamedFile]:
        return [f for f in self.files if f.direction == "output"]

    def service(self, key: str) -> ServiceUse | None:
        return next((s for s in self.services if s.key == key), None)

    def output(self, kind: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.kind == kind), None)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("text")
        return data

    def lines(self) -> list[tuple[str, str]]:
        """(heading, plain sentence) pairs for people and prompts, in a stable order."""
        out: list[tuple[str, str]] = []
        for i, step in enumerate(self.steps, 1):
            out.append(("Step", f"{i}. {step.text} ({step.kind})"))
        for f in self.input_files:
            out.append(("Reads", f"{f.name} ({f.kind} file)"))
        for folder in self.folders:
            out.append(("Reads", f"the folder {folder}"))
        for url in self.urls:
            out.append(("Reads", url))
        for s in self.services:
            how = "supported" if s.supported else "no built-in tool: must be declared"
            out.append(("Service", f"{s.label} ({', '.join(s.actions)}; {how})"))
        for o in self.outputs:
            out.append(("Output", _output_sentence(o)))
        if self.schedule:
            out.append(("Schedule", f"{self.schedule.description} (cron {self.schedule.cron})"))
        if self.output_language != "en":
            out.append(("Language", f"outputs in {self.output_language_name}"))
        for q in self.quantities:
            out.append(("Quantity", f"{q.number} {q.noun}"))
        for w in self.windows:
            out.append(("Time window", w))
        for r in self.rules:
            out.append(("Rule", r))
        return out


def _output_sentence(o: OutputSpec) -> str:
    if o.kind == "email":
        return f"send by email to {o.target}"
    if o.kind == "slack":
        return "post to Slack"
    if o.kind == "file":
        return f"write the file {o.target}"
    if o.kind == "github_label":
        return "label the GitHub issues"
    if o.kind == "per_item":
        return f"one result per {o.target}"
    return f"deliver to {o.target}"


# --------------------------------------------------------------------------- helpers


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")[:MAX_TEXT]
    # A pasted key must never reach a design (it would end up in the project's files).
    text = redact(text).replace(REDACTED, " ")
    # Braces would become CrewAI placeholders; control characters break YAML readability.
    text = text.replace("{", "(").replace("}", ")")
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    text = re.sub(r"[ \t]+", " ", text)
    text = _join_soft_wraps(text)
    return re.sub(r"\n\s*\n+", "\n", text).strip()


SOFT_WRAP_MIN = 40  # a line this long that stops mid-sentence was wrapped, not ended
LINE_END = re.compile(r"[.!?:;。！？…)\]]\s*$")


def _join_soft_wraps(text: str) -> str:
    """Re-join paragraphs pasted with hard line breaks (emails, editors wrap at ~72
    columns): a line that ends mid-sentence continues on the next one, unless the next
    line is a list item or starts a new instruction with a capitalised verb. Blank lines
    and one-instruction-per-line lists stay as they are."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        stripped = line.strip()
        if (
            prev.strip()
            and stripped
            and not LINE_END.search(prev)
            and not LIST_ITEM.match(line)
            and not _is_cjk(prev.rstrip()[-1])
            and not _is_cjk(stripped[0])
            and (
                stripped[0].islower()
                or stripped[0].isdigit()
                and not re.match(r"\d{1,2}[.)]\s", stripped)
                or len(prev.strip()) >= SOFT_WRAP_MIN
                and not _starts_with_verb(stripped)
            )
        ):
            out[-1] = prev.rstrip() + " " + stripped
        else:
            out.append(line)
    return "\n".join(out)


def _is_cjk(ch: str) -> bool:
    return ord(ch) >= 0x2E80


def _starts_with_verb(line: str) -> bool:
    return line[:1].isupper() and any(
        leading_verb(line, lang) for lang in _verb_table() if lang not in {"ja", "zh"}
    )


def _script_language(text: str) -> str | None:
    counts: dict[str, int] = {}
    for ch in text:
        o = ord(ch)
        if 0x3040 <= o <= 0x30FF:
            lang = "ja"
        elif 0xAC00 <= o <= 0xD7AF:
            lang = "ko"
        elif 0x4E00 <= o <= 0x9FFF:
            lang = "han"
        elif 0x0400 <= o <= 0x04FF:
            lang = "uk" if ch in "іїєґІЇЄҐ" else "ru"
        elif 0x0600 <= o <= 0x06FF:
            lang = "ar"
        elif 0x0370 <= o <= 0x03FF:
            lang = "el"
        elif 0x0590 <= o <= 0x05FF:
            lang = "he"
        elif 0x0E00 <= o <= 0x0E7F:
            lang = "th"
        elif 0x0900 <= o <= 0x097F:
            lang = "hi"
        else:
            continue
        counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    letters = sum(1 for ch in text if ch.isalpha())
    if sum(counts.values()) * 3 < letters:  # mostly Latin with a few foreign words
        return None
    if "ja" in counts:
        return "ja"
    if counts.get("han") and counts.get("han", 0) >= max(counts.values()):
        return "zh"
    if counts.get("ru") and counts.get("uk"):
        return "uk"
    return max(sorted(counts), key=lambda k: counts[k])


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", text.lower(), re.UNICODE)


def detect_language(text: str) -> str:
    script = _script_language(text)
    if script:
        return script
    words = _words(URL.sub(" ", text))
    if not words:
        return "en"
    stop = lexicon()["stopwords"]
    scores = {lang: sum(1 for w in words if w in set(ws)) for lang, ws in stop.items()}
    # Accented letters and ß are strong hints for short requests.
    lowered = text.lower()
    scores["de"] += 2 * sum(lowered.count(c) for c in "äöüß")
    scores["fr"] += sum(lowered.count(c) for c in "èêàçù")
    scores["es"] += 2 * sum(lowered.count(c) for c in "ñ¿¡")
    scores["pt"] += 2 * sum(lowered.count(c) for c in "ãõ")
    best = max(sorted(scores), key=lambda k: scores[k])
    if scores[best] == 0 or scores[best] <= scores["en"]:
        return "en"
    return best


@functools.cache
def _verb_table() -> dict[str, list[tuple[str, str]]]:
    """language → [(phrase, kind)] longest phrase first."""
    table: dict[str, list[tuple[str, str]]] = {}
    for lang, kinds in lexicon()["verbs"].items():
        pairs = [(str(v).lower(), kind) for kind, verbs in kinds.items() for v in verbs]
        table[lang] = sorted(pairs, key=lambda p: (-len(p[0]), p[0]))
    return table


def _english_forms(word: str) -> list[str]:
    forms = [word]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    if word.endswith("ing"):
        forms += [word[:-3], word[:-3] + "e"]
    return forms


# Object pronouns Spanish and Italian attach to an imperative ("envíame", "guárdalos",
# "clasifícalas", "avvisami"); the stress accent they add goes when they are removed.
ENCLITICS = (
    "selos selas selo sela melo mela telo glielo gliela "
    "nos los las les les mi ti ci vi gli ne me te se lo la le"
).split()
ACUTE = str.maketrans("áéíóú", "aeiou")


def _enclitic_forms(word: str, lang: str) -> list[str]:
    forms = [word]
    if lang not in {"es", "it", "pt"}:
        return forms
    for suffix in ENCLITICS:
        stem = word.removesuffix(suffix)
        if stem != word and len(stem) >= 3:
            forms += [stem, stem.translate(ACUTE)]
    return forms


def leading_verb(clause: str, lang: str) -> tuple[str, str] | None:
    """(kind, verb) when the clause starts with an action verb of ``lang`` (or English,
    which requests in other languages often mix in)."""
    lowered = clause.lower().strip(" ,.:;-–—\"'`")
    for table_lang in dict.fromkeys((lang, "en")):
        for phrase, kind in _verb_table().get(table_lang, []):
            if " " in phrase:
                if lowered.startswith(phrase + " ") or lowered == phrase:
                    return kind, phrase
                continue
            first = re.match(r"[^\W\d_][\w\-’']*", lowered)
            if not first or re.match(r"\.\w", lowered[first.end() :]):
                return None  # no word, or a file name ("posts.md に保存")
            word = first.group(0)
            forms = (
                _english_forms(word) if table_lang == "en" else _enclitic_forms(word, table_lang)
            )
            if "-" in word:  # "envoie-la", "envie-me", "inspire-toi"
                forms.append(word.split("-")[0])
            if phrase in forms:
                return kind, phrase
    return None


def _any_verb(clause: str, lang: str) -> tuple[str, str] | None:
    """The first known verb anywhere in the clause (German puts infinitives at the end),
    or the last one in Japanese and Chinese (no spaces; the verb closes the clause)."""
    lowered = clause.lower()
    best: tuple[int, str, str] | None = None
    for phrase, kind in _verb_table().get(lang, []):
        if lang in {"ja", "zh"}:
            pos = lowered.find(phrase)
        else:
            m = re.search(r"(?<![\w])" + re.escape(phrase) + r"(?![\w])", lowered)
            pos = m.start() if m else -1
        if pos < 0:
            continue
        if lang in {"ja", "zh"}:
            # Verbs close the clause ("要約を投稿して": the summary is posted); the last one
            # is the action, earlier ones are nouns made from verbs.
            pos = -pos - len(phrase)
        if best is None or pos < best[0]:
            best = (pos, kind, phrase)
    return (best[1], best[2]) if best else None


@functools.cache
def _lead_ins() -> list[re.Pattern[str]]:
    return [re.compile(p, re.I) for p in lexicon()["lead_ins"]]


def strip_lead_ins(clause: str) -> str:
    text = clause.strip(" ,.:;-–—。")
    text = re.sub(r"^(?:毎|每)[^、，]*?(?:に|、)", "", text)
    for _ in range(4):
        before = text
        text = SCHEDULE_PREFIX.sub("", text)
        for pattern in _lead_ins():
            text = pattern.sub("", text).strip(" ,.:;-–—")
        if text == before:
            break
    return text


SCHEDULE_PREFIX = re.compile(
    r"^(?:(?:every|each|on)\s+(?:\w+day|day|morning|evening|night|week|month|hour|weekday)s?"
    r"(?:\s+(?:morning|evening|afternoon))?(?:\s+at\s+\d{1,2}(?::\d{2})?\s*(?:am|pm|h)?)?"
    r"|(?:daily|weekly|monthly|hourly|nightly)"
    r"|(?:jeden|jede|jedes)\s+\w+(?:\s+um\s+\d{1,2}(?::\d{2})?\s*(?:uhr)?)?"
    r"|(?:chaque|tous\s+les)\s+\w+(?:\s+(?:à|a)\s+\d{1,2}\s*h(?:\d{2})?)?"
    r"|(?:cada|todos\s+los)\s+\w+(?:\s+a\s+las\s+\d{1,2}(?::\d{2})?)?"
    r"|(?:toda|todo|todas\s+as|todos\s+os|ogni|elke|iedere)\s+[\w\-]+"
    r"(?:\s+(?:às|as|alle|om)\s+\d{1,2}(?:[:h.]\d{2})?\s*(?:h|uur)?)?)\s*,?\s+",
    re.I,
)


def _split_clauses(sentence: str, lang: str) -> list[str]:
    if lang in {"ja", "zh"}:
        parts = re.split(r"[、，,]", sentence)
        return [p for p in (s.strip() for s in parts) if p]
    # Lists in parentheses ("(name, email, budget)") are not steps: hide their commas.
    sentence = re.sub(r"\([^()]*\)", lambda m: m.group(0).replace(",", "\x01"), sentence)
    parts = [p for p in CLAUSE_SPLIT.split(sentence) if p and p.strip()]
    if lang in {"de", "nl"}:
        # Verbs come last in German/Dutch clauses: split on "und"/"en" when both halves
        # carry a verb of their own.
        split: list[str] = []
        for part in parts:
            pieces = re.split(r",?\s+(?:und|en|sowie)\s+", part)
            current = pieces[0]
            for piece in pieces[1:]:
                if _any_verb(current, lang) and _any_verb(piece, lang):
                    split.append(current)
                    current = piece
                else:
                    current = f"{current} und {piece}"
            split.append(current)
        parts = split
    out: list[str] = []
    for part in parts:
        # ", and <verb>" / " and <verb>" / ", <verb>" start a new step; other commas and
        # "and"s are inside a clause ("research and compare" stays one when no verb follows).
        pieces = re.split(
            r"(,\s*(?:and|und|et|y|e)\s+|\s+(?:and|und|et|y|e)\s+|,\s*)",
            part,
        )
        current = pieces[0]
        for sep, piece in zip(pieces[1::2], pieces[2::2], strict=False):
            candidate = strip_lead_ins(piece)
            if sep.strip(" ,") and _describes_us(current, lang):
                # "We are an agency in Stuttgart and look for …": the same subject goes on
                # describing itself; the second half is not an instruction.
                current = current + sep + piece
                continue
            if candidate and leading_verb(candidate, lang) and len(candidate.split()) >= 2:
                out.append(current)
                current = piece
            else:
                current = current + sep + piece
        out.append(current)
    return [c.strip(" ,").replace("\x01", ",") for c in out if c.strip(" ,")]


FIRST_PERSON = re.compile(
    r"^(?:we|i|wir|ich|nous|je|nosotros|nosotras|nós|noi|wij|ik)\s+(?!(?:want|need|would|'d|’d|"
    r"wish|expect|möchte|möchten|will|wollen|brauche|brauchen|veux|voulons|voudrais|souhaite|"
    r"souhaitons|quiero|queremos|necesito|necesitamos|queremos|precisamos|vogliamo|willen)\b)",
    re.I,
)


def _describes_us(clause: str, lang: str) -> bool:
    """A clause where the user describes themselves ("We are a small agency …"), not an
    instruction to the crew."""
    body = clause.strip()
    return bool(FIRST_PERSON.match(body)) and leading_verb(strip_lead_ins(body), lang) is None


# A clause that constrains the results rather than adding a step.
RULE_START = re.compile(
    r"^(?:don['’]t|do\s+not|does\s+not|never|avoid|always|no\s+(?!later|more|one)\w+|"
    r"nothing\s+\w+|without|only\s+(?:use|include|mention|consider|write|in)|make\s+it|"
    r"(?:use|write\s+in)\s+(?:a|an)\s+[\w\-]+(?:\s+(?:but|and)\s+[\w\-]+)?\s+tone|"
    r"(?:the\s+)?tone\s+(?:should|must|is)|must\s+not|should\s+not|max(?:imum)?\s+\d+|"
    r"keine?[nrs]?\s|nicht\s|niemals|vermeide\w*|achte\s+darauf|immer\s|ohne\s|"
    r"ne\s|n['’]|évite\w*|jamais|toujours|pas\s+de|sans\s|"
    r"no\s|evita\w*|nunca|siempre|mantén|sin\s|"
    r"não|evite|sempre|mantenha|sem\s|"
    r"non\s|mai\s|mantieni|senza\s|"
    r"geen|niet\s|vermijd|nooit|altijd|zonder)",
    re.I,
)
KEEP_RULE = re.compile(r"^(?:keep|maintain|stay|behalte|halte|garde|gardez)\b", re.I)
DELIVERABLE = re.compile(
    r"\b(?:i|we|wir|ich|nous|je)\s+(?:want|need|would\s+like|['’]d\s+like|expect|"
    r"möchten|möchte|brauchen|brauche|hätten\s+gern\w*|voulons|voudrions|veux|voudrais|"
    r"souhaitons|souhaite)\s"
    r"|\b(?:queremos|necesitamos|quiero|necesito|precisamos(?:\s+de)?|preciso(?:\s+de)?|"
    r"vogliamo|voglio|abbiamo\s+bisogno\s+di|willen|wil)\s",
    re.I,
)
ARTICLE = re.compile(
    r"^(?:a|an|one|some|\d+|einen|eine|ein|un|une|des|una|unos|unas|um|uma|uno|een)\s", re.I
)


IRREGULAR_PARTICIPLES = {"sent": "send", "written": "write", "kept": "keep", "made": "make"}


def _passive_verb(clause: str, lang: str) -> tuple[str, str] | None:
    """The kind of the first past participle of a known verb ("posted", "gepostet",
    "enregistré", "guardado", "salvato")."""
    table = {phrase: kind for phrase, kind in _verb_table().get(lang, [])}
    english = {phrase: kind for phrase, kind in _verb_table()["en"]}
    for word in re.findall(r"[^\W\d_]+", clause.lower()):
        stems: list[tuple[str, dict[str, str]]] = []
        if word in IRREGULAR_PARTICIPLES:
            stems.append((IRREGULAR_PARTICIPLES[word], english))
        if word.endswith("ed") and len(word) > 4:
            stems += [(word[:-2], english), (word[:-1], english)]
            if len(word) > 5 and word[-3] == word[-4]:  # "tagged", "planned"
                stems.append((word[:-3], english))
        if lang == "de" and re.fullmatch(r"(?:ge)?\w{3,}e?t", word):
            stem = re.sub(r"e?t$", "", word.removeprefix("ge"))
            stems += [(stem + "e", table), (stem + "en", table), (stem, table)]
        if lang == "fr" and re.fullmatch(r"\w{3,}é(?:e|s|es)?", word):
            stems.append((re.sub(r"é(?:e|s|es)?$", "er", word), table))
        if lang in {"es", "pt"} and re.fullmatch(r"\w{3,}(?:ad|id)[oa]s?", word):
            base = re.sub(r"(?:ad|id)[oa]s?$", "", word)
            stems += [(base + "ar", table), (base + "er", table), (base + "ir", table)]
        if lang == "it" and re.fullmatch(r"\w{3,}(?:at|it)[oaie]", word):
            base = re.sub(r"(?:at|it)[oaie]$", "", word)
            stems += [(base + "are", table), (base + "ire", table), (base + "ere", table)]
        for stem, verbs in stems:
            if stem in verbs:
                return verbs[stem], stem
    return None


def _asks_for_a_deliverable(clause: str, body: str) -> bool:
    """ "We want a newsletter draft …": the user names a thing to make, with no verb."""
    return bool(DELIVERABLE.search(clause)) and bool(ARTICLE.match(body))


def _sentence_case(text: str) -> str:
    text = text.strip(" ,;")
    return text[:1].upper() + text[1:]


def _sentences(text: str) -> list[str]:
    # A URL's own dots do not end a sentence; a full stop right after it does.
    protected = URL.sub(lambda m: _protect_url(m.group(0)), text)
    protected = re.sub(
        r"\b(e\.g|i\.e|etc|vs|z\.b|bzw|ca)\.",
        lambda m: m.group(0).replace(".", "\x00"),
        protected,
        flags=re.I,
    )  # noqa: E501
    out = []
    for line in protected.split("\n"):
        line = LIST_ITEM.sub("", line)
        for s in SENTENCE_SPLIT.split(line):
            s = s.replace("\x00", ".").strip()
            if s:
                out.append(s)
    return out


def _protect_url(url: str) -> str:
    core = url.rstrip(".,;:!?)")
    return core.replace(".", "\x00") + url[len(core) :]


# --------------------------------------------------------------------------- extractors


def _files(text: str) -> list[NamedFile]:
    seen: dict[str, NamedFile] = {}
    url_spans = [m.span() for m in URL.finditer(text)]
    for m in FILE.finditer(text):
        if any(a <= m.start() < b for a, b in url_spans):
            continue
        name = m.group(1).strip("./")
        if "@" in name or name.lower().startswith(("www.", "http")):
            continue
        ext = name.rsplit(".", 1)[-1].lower()
        before = text[max(0, m.start() - 60) : m.start()]
        after = text[m.end() : m.end() + 40]
        if SAVED_AFTER.match(after):  # "in shortlist.md gespeichert", "posts.mdに保存"
            direction = "output"
        elif OUTPUT_CUE.search(before) and not INPUT_CUE.search(before):
            direction = "output"
        elif name.lower().startswith("output/"):
            direction = "output"
        else:
            direction = "input"
        key = name.lower()
        if key not in seen:
            seen[key] = NamedFile(name=name, kind=FILE_EXTENSIONS[ext], direction=direction)
        elif direction == "input":
            # Read anywhere → an input ("we export them to leads.csv … read leads.csv").
            seen[key] = NamedFile(name=seen[key].name, kind=seen[key].kind, direction="input")
    return list(seen.values())


def _folders(text: str, files: list[NamedFile]) -> list[str]:
    found: list[str] = []
    no_urls = URL.sub(" ", text)
    file_dirs = {f.name.rsplit("/", 1)[0] + "/" for f in files if "/" in f.name}
    for m in FOLDER.finditer(no_urls):
        name = (m.group(1) or m.group(2) or m.group(3) or "").strip("/")
        if not name or name.lower() in {"output", "src", "tests"}:
            continue
        if name + "/" in file_dirs or len(name) > 60:
            continue
        if name not in found:
            found.append(name)
    return found[:5]


@functools.cache
def _result_pattern() -> str:
    nouns = sorted({str(n) for ns in lexicon()["result_nouns"].values() for n in ns}, key=len)
    return "|".join(re.escape(n) for n in reversed(nouns))


SOURCE_LINK = re.compile(
    r"\b(?:of|from|de|des|du|von|vom|aus|dos|das|do|da|di|del|della|dei|degli|van|uit)\b", re.I
)
INTO = r"(?:in|into|to|em|en|dans|nel|nella|na|no|auf|op|a)"


def _result_destination(step_text: str, name: str) -> bool:
    """ "Create a comparison table … in competitors.md": the step makes a document and
    names, last, the file it goes in."""
    # The document is the step's object (within its first words after the verb), not a
    # source named later ("… based on the feature list in features.md").
    m = re.match(
        r"\s*\S+\s+(?:\S+\s+){0,3}?(?:"
        + _result_pattern()
        + r")\b(?P<between>[^.;]*?)\b"
        + INTO
        + r"\s+"
        r"(?:\w+\s+){0,2}?" + re.escape(name.lower()) + r"\s*[.!]?\s*$",
        step_text.lower(),
    )
    return m is not None and not SOURCE_LINK.search(m.group("between"))


def _trailing_destination(step_text: str, name: str) -> bool:
    """ "List every unpaid order, in unpaid.csv": a file set off by a comma at the end of a
    step is where its result goes."""
    return bool(
        re.search(
            r",\s*" + INTO + r"\s+(?:\w+\s+){0,2}?" + re.escape(name.lower()) + r"\s*[.!]?\s*$",
            step_text.lower(),
        )
    )


def _alias_found(alias: str, lowered: str) -> bool:
    if any(ord(ch) > 0x2E80 for ch in alias):
        return alias in lowered
    return re.search(_alias_pattern(alias), lowered) is not None


def _alias_pattern(alias: str) -> str:
    return r"(?<![@.])(?<!" + WORD_CHAR + ")" + re.escape(alias) + "(?!" + WORD_CHAR + ")"


EMAIL_SEND = re.compile(
    r"(?:\b(?:e-?mail|mail)\s+(?:me|us|it|them|the|a|an|to|him|her|my|our|this|that|summary|report|digest)\b"
    r"|\b(?:send|sends|sent|deliver|forward|share|envoie|envoyer|sende|senden|schicke|schicken|env[ií]a|enviar|manda|stuur)\b[^.;]{0,80}\b(?:e-?mails?|mails?|inbox|courriel|correo)\b"
    r"|\b(?:by|via|per|par|por|as\s+an?|in\s+an?)\s+(?:e-?mail|mail|courriel|correo)\b"
    r"|\b(?:e-?mails?|mails?)\s+(?:it|them|the\s+\w+|a\s+\w+)\s+to\b"
    r"|\bto\s+[\w.+-]+@[\w-]+\.[\w.]+"
    r"|メールで|メール送信|邮件发送|发送邮件|通过邮件)",
    re.I,
)
EMAIL_READ = re.compile(
    r"\b(?:incoming|customer|client|unread|new|support|received|our|my)\s+(?:e-?mails?|mails?|messages)\b"
    r"|\binbox\b|\b(?:answer|reply to|respond to|read|triage|sort|classify)\s+(?:the\s+|all\s+|our\s+|my\s+)?(?:\w+\s+)?(?:e-?mails?|mails?)\b"
    r"|\b(?:e-?mails?|mails?)\s+(?:from|about)\s+(?:customers|clients)\b",
    re.I,
)
LABEL_CUE = re.compile(
    r"\b(?:label|labels|labelling|labeling|tag|tags|tagging|étiquet\w*|etiquet\w*|markiere\w*)\b|ラベル|标签",
    re.I,
)  # noqa: E501
POST_CUE = re.compile(
    r"\b(?:post|posts|posting|publish|publishes|share|send|sends|notify|alert|poste\w*|publie\w*|publica\w*|sende\w*|schick\w*|envoie\w*|env[ií]a\w*)\b[^.;]{0,60}$",
    re.I,
)
TO_SERVICE = re.compile(
    r"\b(?:to|in|into|on|onto|nach|in|dans|sur|en|a)\s+(?:the\s+|our\s+|my\s+|a\s+)?(?:\w+\s+)?$",
    re.I,
)  # noqa: E501
# "a" and "en" are articles/prepositions of other meanings outside Romance languages ("I run
# a small Shopify store" does not post to Shopify).
TO_SERVICE_GERMANIC = re.compile(
    r"\b(?:to|in|into|on|onto|nach|in)\s+(?:the\s+|our\s+|my\s+|a\s+)?(?:\w+\s+)?$", re.I
)


def _services(text: str, language: str = "en") -> list[ServiceUse]:
    to_service = TO_SERVICE if language in {"fr", "es", "pt", "it"} else TO_SERVICE_GERMANIC
    lowered = text.lower()
    found: list[ServiceUse] = []
    for key, spec in services_catalogue().items():
        aliases = [str(a).lower() for a in spec.get("aliases", [])]
        positions = []
        for alias in aliases:
            if any(ord(ch) > 0x2E80 for ch in alias):
                pos = lowered.find(alias)
                if pos >= 0:
                    positions.append(pos)
            else:
                for m in re.finditer(_alias_pattern(alias), lowered):
                    positions.append(m.start())
        if not positions:
            continue
        actions: list[str] = []
        if key == "email":
            if EMAIL_SEND.search(text) or EMAIL_ADDRESS.search(text):
                actions.append("send")
            if EMAIL_READ.search(text):
                actions.append("read")
            if not actions:
                continue  # "email" as a mere noun ("an email template") is not a service
        elif key == "github":
            if re.search(
                r"\b(?:issues?|pull requests?|prs?|repo|repositor\w+|tickets?)\b", lowered
            ):
                actions.append("read")
            if LABEL_CUE.search(text):
                actions.append("label")
            actions = actions or ["read"]
        elif key == "slack":
            actions.append("send")
            if re.search(r"\b(?:read|monitor|watch|from)\b[^.;]{0,30}\bslack\b", lowered):
                actions.append("read")
        else:
            acts = set()
            for pos in positions:
                before = text[max(0, pos - 80) : pos]
                if POST_CUE.search(before) or to_service.search(before):
                    acts.add("post")
                else:
                    acts.add("mention")
            actions = sorted(acts)
        found.append(
            ServiceUse(
                key=key,
                label=str(spec["label"]),
                supported=bool(spec.get("supported", False)),
                actions=tuple(actions),
                env_var=str(spec.get("env_var") or key.upper() + "_API_KEY"),
            )
        )
    return found


def _schedule(text: str) -> ScheduleSpec | None:
    lowered = text.lower()
    hour, minute = None, 0
    m = (
        re.search(
            r"(?<!\w)(?:" + AT_TIME + r")\s+(\d{1,2})(?:[:h.](\d{2}))?\s*"
            r"(am|pm|a\.m\.|p\.m\.|uhr|uur|h)?(?!\s*(?:%|days?|tage|jours|días|dias|giorni))",
            lowered,
        )
        or re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b", lowered)
        or re.search(r"\b(\d{1,2})(h)(\d{2})?\b", lowered)
    )
    if m:
        hour = int(m.group(1))
        if m.re.groups == 3 and m.group(2) == "h":  # "18h", "9h30"
            minute, suffix = int(m.group(3) or 0), "h"
        else:
            minute = int(m.group(2) or 0)
            suffix = (m.group(3) or "").replace(".", "")
        if suffix == "pm" and hour < 12:
            hour += 12
        if suffix == "am" and hour == 12:
            hour = 0
        if hour > 23 or minute > 59:
            hour, minute = None, 0
    jm = re.search(r"(\d{1,2})時(?:(\d{1,2})分)?", text) or re.search(r"(\d{1,2})点", text)
    if jm and hour is None:
        hour, minute = (
            int(jm.group(1)) % 24,
            int(jm.group(2) or 0) if jm.lastindex and jm.lastindex > 1 and jm.group(2) else 0,
        )  # noqa: E501
    if re.search(r"午後|下午|晚上", text) and hour is not None and hour < 12:
        hour += 12
    if (
        re.search(r"\b(evening|abends|soir|noche|tarde|noite|sera|avond)\b", lowered)
        and hour is None
    ):
        hour = 18

    day: int | str | None = None
    frequency = None
    phrase = ""
    if wm := WORKWEEK.search(lowered):
        frequency, phrase = "weekdays", wm.group(0)
    for name, num in WEEKDAYS.items() if frequency is None else ():
        pm = (
            re.search(
                r"\b(?:" + EVERY + r")\s+" + name + r"s?\b",
                lowered,
            )
            or re.search(r"\b" + name + r"s\b", lowered)
            or re.search(r"\b" + name + r"s?\s+(?:morning|mornings|evening)", lowered)
        )  # noqa: E501
        if pm:
            day, frequency, phrase = num, "weekly", pm.group(0)
            break
    if frequency is None:
        for word, num in WEEKDAYS_JA.items():
            if "毎週" + word in text or word + "日" in text and "毎" in text:
                day, frequency, phrase = num, "weekly", "毎週" + word + "日"
                break
    if frequency is None:
        patterns = [
            (
                r"\bevery\s+(?:weekday|workday|business\s+day|working\s+day)\b|\bon\s+weekdays\b|\bweekdays\b|werktags|en\s+semaine|días\s+laborables|dias\s+úteis|giorni\s+feriali|werkdagen|jours\s+ouvr[ée]s",
                "weekdays",
            ),  # noqa: E501
            (
                r"\bhourly\b|\bevery\s+hour\b|stündlich|toutes\s+les\s+heures|cada\s+hora|毎時|每小时",
                "hourly",
            ),  # noqa: E501
            (
                r"\bdaily\b|\bevery\s+(?:day|morning|evening|night)\b|\beach\s+(?:day|morning)\b|täglich|jeden\s+(?:tag|morgen|abend)|tous\s+les\s+(?:jours|matins|soirs)|chaque\s+(?:jour|matin|soir)|quotidien\w*|cada\s+(?:día|dia|mañana)|todos\s+los\s+días|diariamente|todos\s+os\s+dias|toda\s+(?:manhã|manha|noite)|todas\s+as\s+manhãs|ogni\s+(?:giorno|mattina|sera)|quotidianamente|giornalmente|elke\s+(?:dag|ochtend|avond)|dagelijks|毎日|毎朝|每天|每日",
                "daily",
            ),  # noqa: E501
            (
                r"\bweekly\b|\bevery\s+week\b|\beach\s+week\b|\bonce\s+a\s+week\b|wöchentlich|jede\s+woche|chaque\s+semaine|toutes\s+les\s+semaines|hebdomadaire\w*|cada\s+semana|semanalmente|todas\s+las\s+semanas|toda\s+semana|todas\s+as\s+semanas|ogni\s+settimana|settimanalmente|elke\s+week|wekelijks|毎週|每周",
                "weekly",
            ),  # noqa: E501
            (
                r"\bmonthly\b|\bevery\s+month\b|\beach\s+month\b|\bonce\s+a\s+month\b|monatlich|jeden\s+monat|chaque\s+mois|tous\s+les\s+mois|mensuel\w*|cada\s+mes|mensualmente|todo\s+m[êe]s|todos\s+os\s+meses|mensalmente|ogni\s+mese|mensilmente|elke\s+maand|maandelijks|毎月|每月",
                "monthly",
            ),  # noqa: E501
        ]
        for pattern, freq in patterns:
            pm = re.search(pattern, text, re.I)
            if pm:
                frequency, phrase = freq, pm.group(0)
                break
    if frequency is None:
        return None
    assumed = hour is None
    hour = 8 if hour is None else hour
    time_text = f"{hour:02d}:{minute:02d}" + (" (assumed)" if assumed else "")
    if frequency == "hourly":
        cron, description = f"{minute} * * * *", "every hour"
    elif frequency == "daily":
        cron, description = f"{minute} {hour} * * *", f"every day at {time_text}"
    elif frequency == "weekdays":
        cron, description = f"{minute} {hour} * * 1-5", f"every weekday at {time_text}"
    elif frequency == "monthly":
        cron, description = f"{minute} {hour} 1 * *", f"on the 1st of every month at {time_text}"
    else:
        dow = 1 if day is None else day
        cron = f"{minute} {hour} * * {dow}"
        description = f"every {WEEKDAY_NAMES[int(dow)]} at {time_text}"
    return ScheduleSpec(text=phrase.strip(), cron=cron, description=description)


@functools.cache
def _all_stopwords() -> frozenset[str]:
    return frozenset(w for words in lexicon()["stopwords"].values() for w in words)


def _quantities(text: str) -> list[Quantity]:
    found: list[Quantity] = []
    no_urls = URL.sub(" ", text)
    no_urls = FILE.sub(" ", no_urls)
    for m in QUANTITY.finditer(no_urls):
        if re.search(r"(?<!\w)(?:" + AT_TIME + r")\s+(?:top\s+)?$", no_urls[: m.start()], re.I):
            continue  # a clock time ("alle 7 controlla"), not a quantity
        number = int(m.group(1))
        noun = m.group(2).lower()
        if 1900 <= number <= 2100 or number == 0 or noun in _all_stopwords():
            continue
        if noun in {"or", "to", "and", "more", "times", "per", "out", "bis", "à", "a"}:
            continue
        if any(q.number == number and q.noun == noun for q in found):
            continue
        found.append(Quantity(number=number, noun=noun))
    words = lexicon().get("number_words", {})
    for m in re.finditer(r"\b(" + "|".join(words) + r")\s+([a-z][\w\-]*)", no_urls.lower()):
        noun = m.group(2)
        if noun in {"of", "or", "and", "to", "more", "times", "hours", "days", "weeks"}:
            continue
        number = int(words[m.group(1)])
        if m.group(1) in {"one"}:
            continue  # "one per keyword", "one of" — not a quantity
        if not any(q.number == number and q.noun == noun for q in found):
            found.append(Quantity(number=number, noun=noun, word=m.group(1)))
    return found[:6]


@functools.cache
def _window_patterns() -> tuple[re.Pattern[str], ...]:
    return (WINDOW, *(re.compile(p, re.I) for p in lexicon().get("time_windows", [])))


def _windows(text: str) -> tuple[str, ...]:
    """Time windows in the order written; one inside another counts once."""
    spans: list[tuple[int, int]] = []
    for pattern in _window_patterns():
        for m in pattern.finditer(text):
            if not any(a <= m.start() and m.end() <= b for a, b in spans):
                spans = [(a, b) for a, b in spans if not (m.start() <= a and b <= m.end())]
                spans.append(m.span())
    return tuple(dict.fromkeys(text[a:b] for a, b in sorted(spans)))[:6]


def _output_language(text: str, language: str) -> str:
    names = lexicon()["output_language_names"]
    m = re.search(
        r"\b(?:in|into|to)\s+("
        + "|".join(names)
        + r")\b(?!\s+(?:market|customers|speakers|companies))",
        text,
        re.I,
    )
    if m:
        return str(names[m.group(1).lower()])
    return language


def _subject(steps: list[StepSpec], sentences: list[str], language: str) -> str:
    # The first step that works on something ("read leads.csv" names only the source).
    pronoun = re.compile(r"^\S+\s+(?:them|it|this|that|these|those|everything|all)\b", re.I)
    main = next(
        (s for s in steps if s.kind not in {"read", "save"} and not pronoun.match(s.text)),
        next((s for s in steps if not pronoun.match(s.text)), None),
    )
    source = main.text if main else (sentences[0] if sentences else "")
    source = URL.sub("", source).strip(" .!?;:,-")
    if language not in {"ja", "zh"}:
        verb = leading_verb(source, language)
        if verb:
            words = source.split()
            source = " ".join(words[len(verb[1].split()) :])
    source = re.sub(r"\s+", " ", source).strip(" .!?;:,-")
    if len(source) > 80:
        cut = source[:80].rsplit(" ", 1)[0]
        source = (cut or source[:80]).rstrip(" ,;:-")
    return source[:1].upper() + source[1:] if source else ""


def _noun_kind(text: str) -> str:
    lowered = _words(text)
    nouns = roles_data().get("noun_kinds", {})
    for word in lowered:
        if word in nouns:
            return str(nouns[word])
    return "research"


# --------------------------------------------------------------------------- analyse


@functools.lru_cache(maxsize=256)
def analyse(requirement: str) -> Analysis:
    """Analyse a requirement (cached: the designer, fit check and page all ask)."""
    text = normalise(requirement)
    language = detect_language(text)
    sentences = _sentences(text)
    files = _files(text)
    urls = list(dict.fromkeys(u.rstrip(".,;:)!?") for u in URL.findall(text)))
    services = _services(text, language)

    steps: list[StepSpec] = []
    context: list[str] = []
    rules: list[str] = []
    save_targets: list[str] = []
    for sentence in sentences:
        sentence_had_step = False
        for clause in _split_clauses(sentence, language):
            body = strip_lead_ins(clause)
            if not body:
                continue
            verb = leading_verb(body, language)
            if verb is None and language in {"de", "ja", "zh", "nl"}:
                verb = None if _describes_us(body, language) else _any_verb(body, language)
            if verb is None and RULE_START.match(body):
                rules.append(_sentence_case(body))
                continue
            if verb is None and REQUEST_CUE.search(body):
                # "The shortlist should be posted to Slack", "… sollen gepostet werden"
                verb = _passive_verb(body, language)
            if verb is None and _asks_for_a_deliverable(clause, body):
                # "Each Thursday we want a newsletter draft featuring …": a thing to make.
                verb = ("write", "")
            if verb is None:
                if not sentence_had_step:
                    context.append(clause.strip())
                elif steps:
                    # a trailing phrase of the previous step ("…, in Portuguese")
                    last = steps[-1]
                    steps[-1] = StepSpec(
                        text=f"{last.text}, {body}",
                        kind=last.kind,
                        files=last.files,
                        urls=last.urls,
                        services=last.services,
                    )
                continue
            kind = verb[0]
            first, _, rest = body.partition(" ")
            if first.lower() != verb[1] and verb[1] in _english_forms(first.lower()):
                # "reads leads.csv" → "Read leads.csv" (the crew's step, in the imperative)
                body = f"{verb[1]} {rest}".strip()
            clause_files = tuple(f.name for f in files if f.name.lower() in body.lower())
            if kind == "save" and not clause_files and KEEP_RULE.match(body):
                rules.append(_sentence_case(body))  # "Keep the tone warm", not a file to keep
                continue
            if kind == "save" and steps:
                save_targets.extend(clause_files)
                last = steps[-1]
                steps[-1] = StepSpec(
                    text=f"{last.text}; {body}",
                    kind=last.kind,
                    files=last.files + clause_files,
                    urls=last.urls,
                    services=last.services,
                )
                sentence_had_step = True
                continue
            if kind == "save":
                kind = "write"
            clause_urls = tuple(u for u in urls if u in body)
            clause_services = tuple(
                s.key
                for s in services
                if any(
                    _alias_found(str(a).lower(), body.lower())
                    for a in services_catalogue()[s.key]["aliases"]
                )  # noqa: E501
            )
            steps.append(
                StepSpec(
                    text=body[:1].upper() + body[1:],
                    kind=kind,
                    files=clause_files,
                    urls=clause_urls,
                    services=clause_services,
                )
            )
            sentence_had_step = True
    if not steps and text:
        first = sentences[0] if sentences else text
        body = strip_lead_ins(first) or first
        steps.append(
            StepSpec(
                text=body[:1].upper() + body[1:],
                kind=_noun_kind(text),
                files=tuple(f.name for f in files),
                urls=tuple(urls),
                services=tuple(s.key for s in services),
                inferred=True,
            )
        )
        context = [c for c in context if c != first]
    steps = steps[:MAX_STEPS]

    # A file a reading step names is an input; one a "save … to X" clause names is an
    # output, whatever the cue words around other mentions said.
    read_by_steps = {name for step in steps if step.kind in CONSUMING_KINDS for name in step.files}
    for step in steps:
        save_targets += [
            n
            for n in step.files
            if _trailing_destination(step.text, n)
            or step.kind not in CONSUMING_KINDS
            and _result_destination(step.text, n)
        ]
    # A file only a description mentions ("every Monday I export my stock to inventory.csv",
    # "our export is dropped into listings.json") already exists: the crew reads it.
    in_steps = {name for step in steps for name in step.files}
    for f in files:
        if f.direction != "output" or f.name in in_steps or f.name in save_targets:
            continue
        mentions = [c for c in context if f.name.lower() in c.lower()]
        if mentions and all(SOMEONE_DOES.search(c) and not REQUEST_CUE.search(c) for c in mentions):
            read_by_steps.add(f.name)
    files = [
        NamedFile(f.name, f.kind, "input")
        if f.name in read_by_steps and f.name not in save_targets
        else NamedFile(f.name, f.kind, "output")
        if f.name in save_targets
        else f
        for f in files
    ]

    outputs: list[OutputSpec] = []
    recipients = tuple(dict.fromkeys(EMAIL_ADDRESS.findall(text)))
    email = next((s for s in services if s.key == "email"), None)
    if email and "send" in email.actions:
        m = EMAIL_SEND.search(text)
        target = (
            recipients[0]
            if recipients
            else (
                "you"
                if re.search(r"\b(?:me|mir|mich|moi|me|mí|mim)\b|私|我", text, re.I)
                else "the recipients"
            )
        )  # noqa: E501
        outputs.append(OutputSpec("email", target, m.group(0) if m else "email"))
    slack = next((s for s in services if s.key == "slack"), None)
    if slack:
        outputs.append(OutputSpec("slack", "Slack", "Slack"))
    github = next((s for s in services if s.key == "github"), None)
    if github and "label" in github.actions:
        outputs.append(OutputSpec("github_label", "GitHub issues", "label"))
    for f in files:
        if f.direction == "output":
            outputs.append(OutputSpec("file", f.name, f.name))
    for m in PER_ITEM.finditer(URL.sub(" ", text)):
        # the first "for each <noun>" whose noun is an item ("for each one" is not)
        noun = next(g for g in m.groups() if g).lower()
        if len(noun) > 2 and noun not in NOT_ITEMS and noun not in _all_stopwords():
            outputs.append(OutputSpec("per_item", noun, m.group(0)))
            break
    for s in services:
        if not s.supported and "post" in s.actions:
            outputs.append(OutputSpec("service", s.label, s.label))

    language_name = lexicon()["languages"].get(language, language)
    output_language = _output_language(text, language)
    return Analysis(
        text=text,
        language=language,
        language_name=language_name,
        output_language=output_language,
        output_language_name=lexicon()["languages"].get(output_language, output_language),
        steps=tuple(steps),
        context=tuple(c for c in context if c)[:5],
        files=tuple(files),
        folders=tuple(_folders(text, files)),
        urls=tuple(urls),
        services=tuple(services),
        outputs=tuple(outputs),
        schedule=_schedule(text),
        quantities=tuple(_quantities(text)),
        windows=_windows(text),
        subject=_subject(steps, sentences, language),
        recipients=recipients,
        rules=tuple(dict.fromkeys(r[:300] for r in rules))[:6],
    )
