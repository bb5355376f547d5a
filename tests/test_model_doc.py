"""docs/model.md is the model card rendered: it must match the committed card, figure for figure."""

import json

from training.model_doc import DEFAULT_CARD, DEFAULT_DOC, render


def committed_card() -> dict:
    return json.loads(DEFAULT_CARD.read_text(encoding="utf-8"))


def test_the_committed_model_page_is_the_committed_card_rendered():
    """After a new model or `evaluate --write`, run `python -m training.model_doc` and commit."""
    assert DEFAULT_DOC.read_text(encoding="utf-8") == render(committed_card())


def test_the_page_shows_the_cards_headline_figures():
    card = committed_card()
    page = render(card)
    assert card["model"]["version"] in page
    assert card["model"]["sha256"] in page
    assert card["data"]["pen_written"]["credit"] in page
    test_accuracy = f"{100 * card['metrics']['test_accuracy']:.2f}".rstrip("0").rstrip(".")
    assert f"**{test_accuracy} %**" in page


def test_a_changed_figure_changes_the_page():
    card = committed_card()
    card["metrics"]["nondigit_catch_rate"] = 0.5
    assert "**50 %** refused" in render(card)
    assert render(card) != render(committed_card())


def test_a_fine_tuned_card_names_its_parent():
    """A fine-tuned card has a lineage and the parent's config, but no training run of its own."""
    card = committed_card()
    card["lineage"] = {"parent": {"version": "20990101.000000", "sha256": "0" * 64}}
    card["training"] = {"config": card["training"]["config"], "finetune": {"epochs": 2}}
    page = render(card)
    assert "Fine-tuned from `20990101.000000`" in page
    assert "| training | fine-tuned, seed 1234 |" in page
