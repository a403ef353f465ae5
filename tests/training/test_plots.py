"""The admin's loss plot draws the series a run records."""

from backend.training.plots import loss_plot_svg

BASE = {"critic_loss": -1.0, "generator_loss": 1.0, "gradient_penalty": 0.01, "wasserstein": 1.2}


def test_plot_with_classifier_losses():
    history = [{"step": step, **BASE, "class_loss_real": 0.2, "class_loss_fake": 0.1} for step in (50, 100)]
    svg = loss_plot_svg(history)
    assert "classifier loss, real" in svg
    assert "classifier loss, generated" in svg


def test_plot_without_classifier_head():
    svg = loss_plot_svg([{"step": step, **BASE} for step in (50, 100)])
    assert "Wasserstein estimate" in svg
    assert "classifier loss" not in svg


def test_empty_history_has_no_plot():
    assert loss_plot_svg([]) == ""
