"""Loss curves of a training run as inline SVG (matplotlib, no display needed)."""

import io

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (the backend must be chosen first)

SERIES = [
    ("critic_loss", "critic loss"),
    ("generator_loss", "generator loss"),
    ("gradient_penalty", "gradient penalty"),
    ("wasserstein", "Wasserstein estimate"),
    # Only in runs whose critic has the auxiliary classifier head.
    ("class_loss_real", "classifier loss, real"),
    ("class_loss_fake", "classifier loss, generated"),
]


def loss_plot_svg(history):
    """Return an SVG document plotting each series that ``history`` records over generator steps, or "" when empty."""
    if not history:
        return ""
    figure = Figure(figsize=(7.5, 3.2), dpi=100)
    axes = figure.subplots()
    steps = [record["step"] for record in history]
    for key, label in SERIES:
        if key not in history[0]:
            continue
        axes.plot(steps, [record[key] for record in history], label=label, linewidth=1.2)
    axes.set_xlabel("generator step")
    axes.axhline(0, color="#999", linewidth=0.6)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, ncols=2)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prolog so the SVG can sit inside HTML
