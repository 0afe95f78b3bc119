"""Visuals for the course: figures, GIFs of the chains, and interactive explorers.

Nothing here is imported by ``import ddpm_edu``; matplotlib, imageio, Pillow and ipywidgets are
imported by the functions that need them. The names below load their module on first use.

=====================================  ==========================================================
module                                 what it draws
=====================================  ==========================================================
:mod:`~ddpm_edu.viz.plots`             image grids; β_t, ᾱ_t, SNR of several schedules side by
                                       side; the forward chain as a strip; the L_vlb terms per t
:mod:`~ddpm_edu.viz.likelihood_plots`  the KL of two Gaussians as an area; the bucket decoder L_0
:mod:`~ddpm_edu.viz.score_plots`       a 2-D score field (arrows of −ε over q(x_t)), exact beside
                                       learned, at several t; 2-D samples side by side
:mod:`~ddpm_edu.viz.diagrams`          the Markov chain x_0 ⇄ x_T with q and p_θ (and the terms
                                       of L_vlb); the U-Net drawn from its config, shapes and skips
:mod:`~ddpm_edu.viz.gif`               GIFs of the forward chain and of a sampler's reverse chain
:mod:`~ddpm_edu.viz.frames`            which steps become frames (evenly in the angle arccos √ᾱ_t)
:mod:`~ddpm_edu.viz.widgets`           ``ForwardExplorer``, ``ChainScrubber`` (ipywidgets 8)
:mod:`~ddpm_edu.viz.likelihood_widgets`  ``KLExplorer``, ``BucketExplorer`` (ipywidgets 8)
:mod:`~ddpm_edu.viz.score_widgets`     ``ScoreFieldExplorer`` (ipywidgets 8)
:mod:`~ddpm_edu.viz.vlb_widgets`       ``VLBTermExplorer`` (the terms of L_vlb over t),
                                       ``FastEstimatorExplorer`` (K against the interval)
:mod:`~ddpm_edu.viz.sampling_widgets`  ``DDIMExplorer`` (DDIM's steps and η)
:mod:`~ddpm_edu.viz.guidance_widgets`  ``GuidanceExplorer`` (the guidance weight w and the digit)
=====================================  ==========================================================

Figures are pyplot-free ``matplotlib.figure.Figure`` objects: leave one as the last expression of a
notebook cell to show it, or ``fig.savefig(path)``. Every explorer has ``.static(...)``, the same
picture as a Figure, for places where widgets cannot render.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "plots": [
        "image_grid",
        "schedules_figure",
        "default_schedules",
        "forward_strip",
        "vlb_terms_figure",
    ],
    "likelihood_plots": [
        "kl_figure",
        "kl_scene",
        "bucket_figure",
        "bucket_scene",
        "bucket_probabilities",
    ],
    "diagrams": ["chain_diagram", "unet_diagram"],
    "gif": ["save_gif", "read_gif", "forward_chain_gif", "reverse_chain_gif"],
    "frames": ["frame_times", "pick_steps", "forward_chain", "SPACINGS"],
    "widgets": ["ForwardExplorer", "ChainScrubber"],
    "likelihood_widgets": ["KLExplorer", "BucketExplorer", "kl_monte_carlo"],
    "score_plots": ["score_field_figure", "points_figure", "eps_field", "relative_field_error"],
    "score_widgets": ["ScoreFieldExplorer"],
    "vlb_widgets": [
        "VLBTermExplorer",
        "FastEstimatorExplorer",
        "vlb_term_scenes",
        "fast_estimate_stats",
    ],
    "sampling_widgets": ["DDIMExplorer"],
    "guidance_widgets": ["GuidanceExplorer"],
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'ddpm_edu.viz' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ddpm_edu.viz.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
