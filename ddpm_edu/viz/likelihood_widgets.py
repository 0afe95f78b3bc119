"""Interactive explorers (ipywidgets 8) for the likelihood: the KL of two Gaussians, the bucket
decoder.

Same pattern as :mod:`ddpm_edu.viz.widgets`: a class whose ``.box`` is the widget, controls and
read-outs as attributes, pictures as PNG bytes in an ``ipywidgets.Image`` updated from ``observe``
callbacks, and ``.static(...)`` drawing the same picture with matplotlib. The pictures are the
scenes of :mod:`ddpm_edu.viz.likelihood_plots` drawn with Pillow (a few ms per slider move;
matplotlib needs 40–150 ms), and the static fallbacks draw the same scenes with matplotlib.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .likelihood_plots import (
    bucket_figure,
    bucket_image,
    bucket_scene,
    gaussian_log_pdf,
    kl_figure,
    kl_image,
    kl_scene,
)
from .widgets import Explorer, show_picture

__all__ = ["KLExplorer", "BucketExplorer", "kl_monte_carlo"]


@functools.lru_cache(maxsize=4)
def _standard_normal(n: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal(n)
    z.flags.writeable = False  # shared between calls
    return z


def kl_monte_carlo(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float, n: int = 20000,
                   seed: int = 0) -> tuple[float, float]:
    """Monte Carlo KL(P ‖ Q) = E_{x~P}[log p(x) − log q(x)] from ``n`` draws: (estimate, standard
    error), in nats. The same ``seed`` gives the same standard-normal draws z (x = μ_p + σ_p z), so
    moving a slider changes the estimate smoothly."""
    z = _standard_normal(n, seed)
    x = mu_p + sigma_p * z
    d = gaussian_log_pdf(x, mu_p, sigma_p) - gaussian_log_pdf(x, mu_q, sigma_q)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n))


class KLExplorer(Explorer):
    """KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²)): move the four parameters, watch the densities, the integrand
    p·log(p/q) with its signed area, and the closed form (``normal_kl``) beside a Monte Carlo
    estimate.

    Attributes: ``mu_p``, ``sigma_p``, ``mu_q``, ``sigma_q`` (FloatSliders), ``image`` (Image, PNG),
    ``closed_form``, ``monte_carlo``, ``numeric`` (Labels), ``values`` (dict of the numbers),
    ``box``.
    """

    css_class = "ddpm-edu-kl"

    def __init__(
        self,
        mu_p: float = 0.3,
        sigma_p: float = 0.45,
        mu_q: float = -0.1,
        sigma_q: float = 0.7,
        n_samples: int = 20000,
        seed: int = 0,
    ):
        import ipywidgets as W

        def slider(value, lo, hi, desc):
            return W.FloatSlider(value=value, min=lo, max=hi, step=0.01, description=desc,
                                 continuous_update=True, readout_format=".2f")

        self.n_samples, self.seed = n_samples, seed
        self.mu_p, self.sigma_p = slider(mu_p, -3, 3, "μ_p"), slider(sigma_p, 0.1, 3, "σ_p")
        self.mu_q, self.sigma_q = slider(mu_q, -3, 3, "μ_q"), slider(sigma_q, 0.1, 3, "σ_q")
        self.image = W.Image(format="png")
        self.closed_form, self.monte_carlo, self.numeric = W.Label(), W.Label(), W.Label()
        self._finish(
            W.VBox(
                [
                    W.HBox([W.VBox([self.mu_p, self.sigma_p]), W.VBox([self.mu_q, self.sigma_q])]),
                    self.image,
                    W.HBox([self.closed_form, self.monte_carlo, self.numeric]),
                ]
            )
        )
        for s in (self.mu_p, self.sigma_p, self.mu_q, self.sigma_q):
            s.observe(self._update, names="value")
        self.values: dict = {}
        self._update()

    def params(self) -> tuple[float, float, float, float]:
        """(μ_p, σ_p, μ_q, σ_q) as set on the sliders."""
        return self.mu_p.value, self.sigma_p.value, self.mu_q.value, self.sigma_q.value

    def _update(self, change=None):
        p = self.params()
        v = kl_scene(*p)
        mc, se = kl_monte_carlo(*p, n=self.n_samples, seed=self.seed)
        self.values = {
            "closed_form": v.closed_form,
            "numeric": v.numeric,
            "monte_carlo": mc,
            "monte_carlo_se": se,
        }
        show_picture(self.image, kl_image(v))
        self.closed_form.value = f"closed form (normal_kl): {v.closed_form:.4f} nats"
        self.monte_carlo.value = f"| Monte Carlo ({self.n_samples} draws): {mc:.4f} ± {se:.4f}"
        self.numeric.value = f"| numeric ∫: {v.numeric:.4f}"

    def __repr__(self) -> str:
        return "KLExplorer(mu_p={:.2f}, sigma_p={:.2f}, mu_q={:.2f}, sigma_q={:.2f})".format(
            *self.params()
        )

    @staticmethod
    def static(mu_p: float = 0.3, sigma_p: float = 0.45, mu_q: float = -0.1, sigma_q: float = 0.7):
        """The same picture without widgets (a matplotlib Figure): :func:`kl_figure`."""
        return kl_figure(mu_p, sigma_p, mu_q, sigma_q)


def _pixel_bits(mean: float, sigma: float, k: int, exact: bool) -> float:
    """−log₂ p(x_0 = k), from the library's log-probability, so it stays finite where p
    underflows."""
    import torch

    from ..losses import discretized_gaussian_log_likelihood
    x = torch.tensor([[k / 127.5 - 1.0]], dtype=torch.float64)
    logp = discretized_gaussian_log_likelihood(
        x,
        torch.tensor(mean, dtype=torch.float64),
        torch.tensor(math.log(sigma), dtype=torch.float64),
        exact,
    )
    return -float(logp) / math.log(2.0)


class BucketExplorer(Explorer):
    """The decoder L_0 = −log p(x_0 | x_1) of one pixel: a Gaussian N(μ, σ_1²) cut into 256 buckets.

    Move μ, σ_1 and the pixel value k; read p(k) (and −log₂ p(k) in bits), the neighbouring buckets'
    probabilities, and Σ_k p(k), which is 1 whatever μ and σ_1 are, because the edge buckets k = 0
    and 255 run to −∞ and +∞. ``exact`` switches between the exact normal CDF and DDPM's tanh
    approximation (with its 1e−12 floor).

    Attributes: ``mean``, ``sigma`` (FloatLogSlider), ``pixel`` (IntSlider 0..255), ``exact``
    (Checkbox), ``image`` (Image, PNG), ``probability``, ``neighbours`` (HTML), ``total`` (Label),
    ``values``, ``box``.
    """

    css_class = "ddpm-edu-bucket"

    def __init__(
        self, mean: float = 0.0, sigma: float = 0.01, pixel: int = 128, exact: bool = True
    ):
        import ipywidgets as W

        self.mean = W.FloatSlider(value=mean, min=-1.2, max=1.2, step=0.001, description="μ",
                                  readout_format=".3f", continuous_update=True)
        self.sigma = W.FloatLogSlider(
            value=sigma,
            base=10,
            min=-3,
            max=math.log10(0.5),
            step=0.01,
            description="σ₁",
            readout_format=".4f",
            continuous_update=True,
        )
        self.pixel = W.IntSlider(
            value=pixel, min=0, max=255, description="pixel k", continuous_update=True
        )
        self.exact = W.Checkbox(
            value=exact, description="exact Φ (off: DDPM's tanh Φ̃)", indent=False
        )
        self.image = W.Image(format="png")
        self.probability, self.neighbours, self.total = W.HTML(), W.HTML(), W.Label()
        self._finish(
            W.VBox(
                [
                    W.HBox([W.VBox([self.mean, self.sigma]), W.VBox([self.pixel, self.exact])]),
                    self.image,
                    W.HBox([self.probability, self.total]),
                    self.neighbours,
                ]
            )
        )
        for s in (self.mean, self.sigma, self.pixel, self.exact):
            s.observe(self._update, names="value")
        self.values: dict = {}
        self._update()

    def _update(self, change=None):
        k = int(self.pixel.value)
        v = bucket_scene(float(self.mean.value), float(self.sigma.value), k, bool(self.exact.value))
        pk = v.pixel_prob
        bits = _pixel_bits(
            float(self.mean.value), float(self.sigma.value), k, bool(self.exact.value)
        )
        self.values = {"probs": v.probs, "pixel_prob": pk, "bits": bits, "total": v.total}
        show_picture(self.image, bucket_image(v))
        self.probability.value = (f"p(x<sub>0</sub> = {k}) = <b>{pk:.6g}</b> &nbsp; "
                                  f"(−log₂ p = {bits:.4g} bits) &nbsp;")
        self.total.value = f"Σ over the 256 buckets = {v.total:.9f}"
        near = range(max(0, k - 3), min(255, k + 3) + 1)
        cells = "".join(
            f"<td style='padding:0 .6em;{'color:#c00;font-weight:bold' if j == k else ''}'>"
            f"k={j}<br>{v.probs[j]:.4g}</td>"
            for j in near
        )
        self.neighbours.value = f"<table><tr>{cells}</tr></table>"

    def __repr__(self) -> str:
        return (f"BucketExplorer(mean={self.mean.value:.3f}, sigma={self.sigma.value:.4g}, "
                f"pixel={self.pixel.value})")

    @staticmethod
    def static(mean: float = 0.0, sigma: float = 0.01, pixel: int = 128, exact: bool = True):
        """The same picture without widgets (a matplotlib Figure): :func:`bucket_figure`."""
        return bucket_figure(mean, sigma, pixel, exact)
