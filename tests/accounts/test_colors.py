"""White-label colours stay readable whatever brand colour an owner picks (WCAG 1.4.3)."""

from __future__ import annotations

import itertools

import pytest
from django.template import Context, Template

from accounts import colors

# 216 colours across the whole RGB cube, plus the awkward mid-tones and near-whites.
CUBE = ["#{:02x}{:02x}{:02x}".format(*c) for c in itertools.product(range(0, 256, 51), repeat=3)]
AWKWARD = ["#777777", "#ef4444", "#f59e0b", "#22c55e", "#0ea5e9", "#fde047", "#fafafa", "#808080"]


@pytest.mark.parametrize("brand", CUBE + AWKWARD)
def test_every_brand_colour_gets_readable_partners(brand):
    palette = {k: colors.parse_hex(v) for k, v in colors.brand_palette(brand).items()}
    assert palette["--primary"] == colors.parse_hex(brand)  # the brand as chosen
    # button text on the button fill
    assert colors.contrast(palette["--primary-fill"], palette["--on-primary"]) >= 4.5
    # links and brand-coloured text on white, on the page background and on the tint
    for background in ("#ffffff", "#f7f7fb"):
        assert colors.contrast(palette["--link"], colors.parse_hex(background)) >= 4.5
    assert colors.contrast(palette["--link"], palette["--primary-soft"]) >= 4.5
    assert colors.contrast(palette["--primary-dark"], palette["--primary-soft"]) >= 4.5
    # the focus ring against white (non-text contrast)
    assert colors.contrast(palette["--focus"], colors.parse_hex("#ffffff")) >= 3


def test_a_readable_brand_colour_is_used_as_it_is():
    palette = colors.brand_palette("#0f766e")
    assert palette["--primary-fill"] == "#0f766e" and palette["--on-primary"] == "#ffffff"
    light = colors.brand_palette("#f59e0b")
    assert light["--primary-fill"] == "#f59e0b" and light["--on-primary"] == "#1b1d29"


@pytest.mark.parametrize("junk", ["", "red", "#fff", "#12345g", "#1234567", "#123456;}"])
def test_malformed_colours_give_nothing(junk):
    assert colors.brand_palette(junk) == {}
    assert colors.text_on(junk) == "#ffffff"


def test_brand_style_carries_only_derived_hex_values():
    html = Template('{% include "accounts/_brand_style.html" with b=b %}').render(
        Context({"b": {"primary_color": "#fde047", "accent_color": "#ffffff"}})
    )
    assert "--primary: #fde047;" in html
    assert "--on-primary: #1b1d29;" in html
    assert "--link: #" in html and "--focus: #" in html
    hostile = Template('{% include "accounts/_brand_style.html" with b=b %}').render(
        Context({"b": {"primary_color": "#123456;} body{display:none", "accent_color": ""}})
    )
    assert "display:none" not in hostile


def test_file_paths_may_wrap_after_slashes_and_stay_escaped():
    html = Template("{% load text %}{{ p|breakable_path }}").render(
        Context({"p": "src/<crew>/config/agents.yaml"})
    )
    assert html == "src/<wbr>&lt;crew&gt;/<wbr>config/<wbr>agents.yaml"
