"""Seed the LLM model catalogue (prices in US cents per million tokens, list prices at the
time of writing; operators keep them current in the admin) and the starter blueprints."""

from __future__ import annotations

from django.db import migrations

MODELS = [
    # provider, name, label, class, input ¢/M, output ¢/M, default, order
    ("openai", "gpt-4o-mini", "GPT-4o mini", "standard", 15, 60, True, 10),
    ("openai", "gpt-4.1-mini", "GPT-4.1 mini", "standard", 40, 160, False, 20),
    ("openai", "gpt-4o", "GPT-4o", "advanced", 250, 1000, False, 30),
    ("openai", "gpt-4.1", "GPT-4.1", "advanced", 200, 800, False, 40),
    ("anthropic", "claude-3-5-haiku-latest", "Claude 3.5 Haiku", "standard", 80, 400, True, 10),
    ("anthropic", "claude-haiku-4-5", "Claude Haiku 4.5", "standard", 100, 500, False, 20),
    ("anthropic", "claude-sonnet-4-5", "Claude Sonnet 4.5", "advanced", 300, 1500, False, 30),
    ("anthropic", "claude-opus-4-1", "Claude Opus 4.1", "advanced", 1500, 7500, False, 40),
]

CONTENT_MARKETING = {
    "name": "content_marketing",
    "title": "Content marketing crew",
    "summary": "Researches a topic, writes an SEO-aware blog post and edits it for the brand voice.",
    "process": "sequential",
    "agents": [
        {
            "id": "topic_researcher",
            "role": "Content Researcher for {topic}",
            "goal": "Find the angles, facts and sources that make a post about {topic} worth reading for {audience}",
            "backstory": "A former journalist who checks every claim and knows where good sources live.",
            "tools": ["web_search", "web_page_reader"],
            "allow_delegation": False,
        },
        {
            "id": "content_writer",
            "role": "Content Writer",
            "goal": "Write a clear, engaging blog post about {topic} for {audience}",
            "backstory": "A copywriter who turns research notes into readable, search-friendly articles.",
            "tools": [],
            "allow_delegation": False,
        },
        {
            "id": "content_editor",
            "role": "Managing Editor",
            "goal": "Make the post accurate, on-brand and ready to publish",
            "backstory": "An editor with a sharp eye for structure, tone and unsupported claims.",
            "tools": ["file_writer"],
            "allow_delegation": False,
        },
    ],
    "tasks": [
        {
            "id": "research_topic",
            "description": "Research {topic} for {audience}: key questions readers ask, recent facts with sources, and three possible angles.",
            "expected_output": "A research brief with bullet-point findings, sources and a recommended angle.",
            "agent": "topic_researcher",
            "context": [],
        },
        {
            "id": "write_post",
            "description": "Write a 900-1200 word blog post about {topic} using the research brief; include a title, headings and a call to action.",
            "expected_output": "A complete blog post in Markdown.",
            "agent": "content_writer",
            "context": ["research_topic"],
        },
        {
            "id": "edit_post",
            "description": "Edit the post for accuracy, clarity and brand voice; keep every claim backed by the brief.",
            "expected_output": "The final, publish-ready post in Markdown.",
            "agent": "content_editor",
            "context": ["research_topic", "write_post"],
            "output_file": "output/post.md",
        },
    ],
    "inputs": {"topic": "AI agents for small businesses", "audience": "small business owners"},
    "integrations": [],
}

LEAD_RESEARCH = {
    "name": "lead_research",
    "title": "Lead research crew",
    "summary": "Profiles a target company, qualifies it against the ideal customer profile and drafts a personalised outreach email.",
    "process": "sequential",
    "agents": [
        {
            "id": "company_researcher",
            "role": "B2B Company Researcher",
            "goal": "Build an accurate profile of {company} from public sources",
            "backstory": "A sales-intelligence analyst who knows how to read websites, news and job posts for buying signals.",
            "tools": ["web_search", "web_page_reader"],
            "allow_delegation": False,
        },
        {
            "id": "lead_qualifier",
            "role": "Lead Qualification Analyst",
            "goal": "Score {company} against the ideal customer profile: {ideal_customer}",
            "backstory": "A revenue-operations specialist who is strict about fit and honest about uncertainty.",
            "tools": ["calculator"],
            "allow_delegation": False,
        },
        {
            "id": "outreach_writer",
            "role": "Sales Development Writer",
            "goal": "Write a short, personalised first email to {company} that a busy buyer would answer",
            "backstory": "An SDR who writes emails that reference real facts instead of templates.",
            "tools": [],
            "allow_delegation": False,
        },
    ],
    "tasks": [
        {
            "id": "profile_company",
            "description": "Research {company}: what it sells, size, recent news, technology hints and likely decision makers.",
            "expected_output": "A company profile with sources and a list of buying signals.",
            "agent": "company_researcher",
            "context": [],
        },
        {
            "id": "qualify_lead",
            "description": "Score the company from 0 to 100 against this ideal customer profile: {ideal_customer}. Explain each criterion.",
            "expected_output": "A fit score, the criteria met and missed, and a go/no-go recommendation.",
            "agent": "lead_qualifier",
            "context": ["profile_company"],
        },
        {
            "id": "draft_outreach",
            "description": "If the lead is a go, draft a first outreach email (under 120 words) that references two facts from the profile.",
            "expected_output": "A subject line and email body, or a one-line reason not to reach out.",
            "agent": "outreach_writer",
            "context": ["profile_company", "qualify_lead"],
            "output_file": "output/outreach.md",
        },
    ],
    "inputs": {
        "company": "Acme Logistics",
        "ideal_customer": "B2B companies with 50-500 employees running field operations",
    },
    "integrations": [],
}

SUPPORT_TRIAGE = {
    "name": "support_triage",
    "title": "Customer support triage crew",
    "summary": "Classifies incoming support tickets, drafts answers from the knowledge base and escalates what needs a human.",
    "process": "sequential",
    "agents": [
        {
            "id": "ticket_classifier",
            "role": "Support Triage Specialist",
            "goal": "Classify each ticket in {tickets_file} by topic, urgency and sentiment",
            "backstory": "A support lead who has seen every kind of ticket and knows what is really urgent.",
            "tools": ["csv_reader"],
            "allow_delegation": False,
        },
        {
            "id": "answer_drafter",
            "role": "Support Answer Writer",
            "goal": "Draft accurate, friendly replies for {product} customers using the knowledge base",
            "backstory": "A support engineer who answers from documentation, never from guesses.",
            "tools": ["file_reader"],
            "allow_delegation": False,
        },
        {
            "id": "escalation_manager",
            "role": "Escalation Manager",
            "goal": "Decide which tickets need a human and summarise them for the on-call team",
            "backstory": "A customer-success manager who protects both the customer and the team's time.",
            "tools": ["file_writer"],
            "allow_delegation": False,
        },
    ],
    "tasks": [
        {
            "id": "classify_tickets",
            "description": "Read the tickets in {tickets_file} and label each with topic, urgency (low/medium/high) and sentiment.",
            "expected_output": "A table of ticket ids with topic, urgency and sentiment.",
            "agent": "ticket_classifier",
            "context": [],
        },
        {
            "id": "draft_replies",
            "description": "For every low and medium urgency ticket, draft a reply for {product} customers based on the knowledge base.",
            "expected_output": "One draft reply per ticket, each citing the knowledge-base article used.",
            "agent": "answer_drafter",
            "context": ["classify_tickets"],
        },
        {
            "id": "escalate_tickets",
            "description": "List the high urgency tickets and any ticket without a confident answer, with a one-paragraph summary each.",
            "expected_output": "An escalation report for the on-call team.",
            "agent": "escalation_manager",
            "context": ["classify_tickets", "draft_replies"],
            "output_file": "output/escalations.md",
        },
    ],
    "inputs": {"tickets_file": "tickets.csv", "product": "Acme CRM"},
    "integrations": [],
}

TEMPLATES = [
    (
        "content-marketing",
        "Content marketing",
        "Research a topic, write a blog post and edit it for your brand voice.",
        "Research a topic our customers care about, write a 1,000-word SEO-friendly blog post "
        "for small business owners, and edit it for our friendly, practical brand voice.",
        CONTENT_MARKETING,
    ),
    (
        "lead-research",
        "Lead research",
        "Profile a target company, score the fit and draft a personalised first email.",
        "Given a company name, research it from public sources, score how well it fits our "
        "ideal customer profile, and draft a short personalised outreach email if it fits.",
        LEAD_RESEARCH,
    ),
    (
        "support-triage",
        "Customer support triage",
        "Classify tickets, draft answers from the knowledge base, escalate the rest.",
        "Read our incoming support tickets from a CSV export, classify them by topic and "
        "urgency, draft replies from our knowledge base and escalate urgent ones to a human.",
        SUPPORT_TRIAGE,
    ),
]


def seed(apps, schema_editor):
    LlmModel = apps.get_model("generation", "LlmModel")
    CrewTemplate = apps.get_model("generation", "CrewTemplate")
    for provider, name, label, model_class, pin, pout, default, order in MODELS:
        LlmModel.objects.update_or_create(
            provider=provider,
            name=name,
            defaults={
                "label": label,
                "model_class": model_class,
                "input_cents_per_million": pin,
                "output_cents_per_million": pout,
                "is_default": default,
                "sort_order": order,
                "active": True,
            },
        )
    for slug, name, description, requirement, blueprint in TEMPLATES:
        CrewTemplate.objects.update_or_create(
            organization=None,
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "requirement": requirement,
                "blueprint": blueprint,
                "active": True,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("generation", "CrewTemplate").objects.filter(
        organization=None, slug__in=[t[0] for t in TEMPLATES]
    ).delete()
    apps.get_model("generation", "LlmModel").objects.filter(
        name__in=[m[1] for m in MODELS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("generation", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
