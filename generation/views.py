"""Generation pages: generate, list, detail (live progress via htmx polling), files,
download, clarifying questions and "save as template". Each view parses a form, makes one
service call and renders; every lookup is scoped to the caller's organisation (404 for
anyone else's generation)."""

from __future__ import annotations

import re
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import MemberRequest, UserRequest
from accounts.permissions import Cap, can
from accounts.selectors import get_for_org_or_404
from accounts.web import NOT_FOUND, forbidden, form_errors_add, organization_view
from billing.selectors import Feature, entitlements_for, plan_allows
from billing.services import PaymentRequired, PlanNotAllowed
from billing.tenancy import tenant_for_member
from crewbuilder.errors import ServiceUnavailable
from crewbuilder.providers import PROVIDERS
from generation import selectors, services
from generation.forms import SERVICE_FIELDS, AnswersForm, GenerateForm, SaveTemplateForm
from generation.models import Generation
from generation.requirements import requirement_limits
from keys.services import platform_key

PAGE_SIZE = 20
# Starter and custom template slugs; anything else in ?template= is ignored, not queried.
_SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,100}")
STAGES = [
    Generation.Stage.DESIGNING,
    Generation.Stage.RENDERING,
    Generation.Stage.CHECKING,
    Generation.Stage.PACKAGING,
    Generation.Stage.DONE,
]


def _generation_for(request: HttpRequest, pk) -> Generation:
    return get_for_org_or_404(Generation.objects.select_related("template", "user"), request, pk=pk)


def _payment_required(request: HttpRequest, exc: PaymentRequired) -> HttpResponse:
    return render(request, "generation/payment_required.html", {"message": str(exc)}, status=402)


def _generate_context(request: MemberRequest, form: GenerateForm) -> dict:
    org = request.organization
    low, high = requirement_limits()
    return {
        "form": form,
        "templates": selectors.crew_templates_for(organization=org),
        "models": form.models,
        "can_generate": can(request.membership.role, Cap.GENERATE),
        "entitlements": entitlements_for(org),
        "platform_available": any(platform_key(p) for p in PROVIDERS),
        "requirement_min": low,
        "requirement_max": high,
    }


@organization_view(Cap.GENERATE, methods={"POST"}, denied=services.GENERATE_DENIED)
def generate(request: MemberRequest) -> HttpResponse:
    models = list(selectors.llm_models_active())
    if request.method == "POST":
        form = GenerateForm(request.POST, models=models)
        if form.is_valid():
            data = form.cleaned_data
            order = services.GenerationOrder(
                requirement=data["requirement"],
                key_source=data["key_source"],
                provider=data["provider"],
                model=data["model_name"],
                api_key=data["api_key"] or None,
                template=data["template"] or None,
                allow_questions=True,
            )
            tenant = tenant_for_member(membership=request.membership, user=request.user)
            try:
                generation = services.generation_create_for(tenant=tenant, order=order)
            except ValidationError as exc:
                form_errors_add(form, exc, SERVICE_FIELDS)
            except PaymentRequired as exc:
                return _payment_required(request, exc)
            except (PlanNotAllowed, PermissionDenied) as exc:
                raise forbidden(exc) from exc
            except ServiceUnavailable as exc:
                # Nothing was queued or charged: the same form again, with what was typed.
                form.add_error(None, exc.message)
                response = render(
                    request,
                    "generation/generate.html",
                    _generate_context(request, form),
                    status=exc.status,
                )
                response["Retry-After"] = str(exc.retry_after)
                return response
            else:
                return redirect("generation:detail", pk=generation.pk)
        return render(
            request, "generation/generate.html", _generate_context(request, form), status=400
        )

    initial = {"key_choice": "platform"}
    slug = request.GET.get("template", "")
    if slug and _SLUG_RE.fullmatch(slug):
        template = selectors.crew_template_for(organization=request.organization, slug=slug)
        if template is not None:
            initial.update(template=template.slug, requirement=template.requirement)
    form = GenerateForm(initial=initial, models=models)
    return render(request, "generation/generate.html", _generate_context(request, form))


@organization_view()
@require_GET
def generation_list(request: MemberRequest) -> HttpResponse:
    queryset = selectors.generations_for(organization=request.organization).defer(
        "design", "files", "checks"
    )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "generation/list.html", {"page": page})


def _stages(g: Generation) -> list[dict]:
    current = g.stage
    order: dict[str, int] = {stage: i for i, stage in enumerate(STAGES)}
    position = order.get(current, -1)
    rows = []
    for stage in STAGES:
        if g.status == Generation.Status.SUCCEEDED or order[stage] < position:
            state = "done"
        elif stage == current and g.status == Generation.Status.RUNNING:
            state = "current"
        elif stage == current and g.status == Generation.Status.FAILED:
            state = "failed"
        else:
            state = ""
        rows.append({"name": stage.label, "state": state})
    return rows


def _detail_context(request: MemberRequest, g: Generation, **extra) -> dict:
    design = g.design or {}
    role = request.membership.role
    context = {
        "g": g,
        "stages": _stages(g),
        "agents": design.get("agents", []),
        "tasks": design.get("tasks", []),
        "inputs": design.get("inputs", {}),
        "integrations": design.get("integrations", []),
        "checks_passed": sum(1 for c in g.checks or [] if c.get("passed")),
        "understood": selectors.generation_understood(g),
        "fit": selectors.generation_fit(g),
        "can_generate": can(role, Cap.GENERATE),
        "can_save_template": can(role, Cap.GENERATE)
        and g.status == Generation.Status.SUCCEEDED
        and plan_allows(request.organization, Feature.CUSTOM_TEMPLATES),
        "answers_form": None,
        "template_form": SaveTemplateForm(),
    }
    if g.awaiting_answers:
        context["answers_form"] = AnswersForm(questions=g.questions)
    context.update(extra)
    return context


@login_required
@require_GET
def generation_detail(request: UserRequest, pk) -> HttpResponse:
    g = _generation_for(request, pk)
    request = cast(MemberRequest, request)  # found in the current organisation, so it has one
    return render(request, "generation/detail.html", _detail_context(request, g))


@login_required
@require_GET
def generation_progress(request: UserRequest, pk) -> HttpResponse:
    """The polled fragment. Once the generation finishes (or needs answers) it asks htmx
    to reload the page, which then shows the result and polls no more."""
    g = _generation_for(request, pk)
    response = render(request, "generation/_progress.html", {"g": g, "stages": _stages(g)})
    if request.htmx and (g.is_finished or g.awaiting_answers):
        response["HX-Refresh"] = "true"
    return response


@organization_view(Cap.GENERATE, denied=services.GENERATE_DENIED, no_organization=NOT_FOUND)
@require_POST
def generation_answer(request: MemberRequest, pk) -> HttpResponse:
    g = _generation_for(request, pk)
    form = AnswersForm(request.POST, questions=g.questions)
    if form.is_valid():
        try:
            services.generation_answer_questions(
                generation=g, user=request.user, answers=form.answers()
            )
        except ValidationError as exc:
            form_errors_add(form, exc, SERVICE_FIELDS)
        except PermissionDenied as exc:
            raise forbidden(exc) from exc
        else:
            return redirect("generation:detail", pk=g.pk)
    return render(
        request,
        "generation/detail.html",
        _detail_context(request, g, answers_form=form),
        status=400,
    )


@login_required
@require_POST
def generation_save_template(request: UserRequest, pk) -> HttpResponse:
    g = _generation_for(request, pk)
    request = cast(MemberRequest, request)  # found in the current organisation, so it has one
    form = SaveTemplateForm(request.POST)
    if form.is_valid():
        if g.status != Generation.Status.SUCCEEDED:
            form.add_error(None, "Only a finished generation can be saved as a template.")
        else:
            try:
                template = services.crew_template_create(
                    organization=request.organization,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    requirement=g.requirement,
                    blueprint=g.design,
                )
            except ValidationError as exc:
                form_errors_add(form, exc, SERVICE_FIELDS)
            except (PlanNotAllowed, PermissionDenied) as exc:
                raise forbidden(exc) from exc
            else:
                messages.success(request, f"Saved “{template.name}” as a template.")
                return redirect("generation:detail", pk=g.pk)
    return render(
        request,
        "generation/detail.html",
        _detail_context(request, g, template_form=form),
        status=400,
    )


@login_required
@require_GET
def generation_file(request: UserRequest, pk) -> HttpResponse:
    g = _generation_for(request, pk)
    path = request.GET.get("path", "")
    content = selectors.generation_file(g, path)
    if content is None:
        raise Http404("No such file.")
    return render(request, "generation/file.html", {"g": g, "path": path, "content": content})


@login_required
@require_GET
def generation_download(request: UserRequest, pk) -> HttpResponse:
    g = _generation_for(request, pk)
    try:
        data = selectors.generation_zip(g)
    except selectors.ZipNotReady:
        return render(
            request,
            "generation/not_ready.html",
            {"g": g},
            status=409,
        )
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="{selectors.generation_zip_filename(g)}"'
    )
    return response
