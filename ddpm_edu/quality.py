"""How good are generated digits? Three numbers from the shipped digit classifier.

``sample_quality(images)`` returns a :class:`QualityReport` with

- **confident share**: the share of images whose top class probability exceeds 0.9 — "does it look
  like *some* digit?" (real MNIST test digits: ≈ 0.99, see
  ``data/checkpoints/digit_classifier.md``);
- **class histogram**: counts and shares of the argmax class over *all* images, and the smallest
  share — "are all ten digits there?" (mode collapse shows up as a share near 0; uniform is 0.1);
- **classifier-feature Fréchet distance** ("FID" in the report, but NOT the Inception FID of
  Heusel et al. 2017): the Fréchet distance between Gaussians fitted to the classifier's
  penultimate features (128-D, :meth:`DigitClassifier.features`) of the images and of the 10 000
  MNIST test digits,

      d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).

  Same formula as FID, different feature extractor: numbers are comparable with each other (at the
  same number of images — the estimate is biased upward for small n), never with published FIDs.

The reference statistics are computed on first use and kept in memory for the process.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .classifier import DigitClassifier, as_classifier_input, default_classifier
from .errors import InvalidArgument, InvalidType

__all__ = ["QualityReport", "ConditionalReport", "sample_quality", "conditional_quality",
           "classifier_outputs", "feature_statistics",
           "frechet_distance", "reference_statistics"]

_FID_NAME = "classifier-feature FID (digit-CNN penultimate features, not Inception FID)"


@dataclass(frozen=True)
class QualityReport:
    """Quality of a set of digit images, judged by the shipped classifier (see module docstring)."""

    n: int
    threshold: float
    confident_share: float  # share with max class probability > threshold
    class_counts: tuple[int, ...]  # argmax class 0..9, over all n images
    class_shares: tuple[float, ...]
    min_class_share: float
    fid: float  # classifier-feature Fréchet distance to the reference set; NOT Inception FID
    reference: str  # what the Fréchet distance is measured against

    def to_dict(self) -> dict:
        return {"n": self.n, "threshold": self.threshold, "confident_share": self.confident_share,
                "class_counts": list(self.class_counts), "class_shares": list(self.class_shares),
                "min_class_share": self.min_class_share, "fid": self.fid,
                "fid_kind": _FID_NAME, "reference": self.reference}

    def __str__(self) -> str:
        hist = "  ".join(f"{d}:{c}" for d, c in enumerate(self.class_counts))
        lines = [
            f"Sample quality of {self.n} images (judged by the ddpm_edu digit classifier)",
            f"  confident (p_max > {self.threshold:g}): {100 * self.confident_share:.1f} %",
            f"  classes (argmax counts): {hist}",
            f"  smallest class share: {100 * self.min_class_share:.1f} % (uniform = 10 %)",
            f"  Fréchet distance: {self.fid:.2f} — {_FID_NAME}, vs {self.reference};",
            "    compare only at equal numbers of images.",
        ]
        return "\n".join(lines)


@torch.no_grad()
def classifier_outputs(images, classifier: DigitClassifier | None = None,
                       batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(class probabilities (N, 10), penultimate features (N, C)) of uint8 or [−1, 1] digits."""
    net = classifier if classifier is not None else default_classifier()
    if not isinstance(net, DigitClassifier):
        raise InvalidType(f"classifier must be a DigitClassifier (ddpm_edu.classifier."
                          f"load_classifier(path)) or None, got {type(net).__name__}.")
    x = as_classifier_input(images)  # (N, 1, 28, 28)
    if len(x) == 0:
        raise InvalidArgument("no images given: sample_quality needs at least 2 images.")
    was_training = net.training
    net.eval()
    probs, feats = [], []
    for i in range(0, len(x), batch_size):
        f = net.features(x[i:i + batch_size])  # (b, C)
        feats.append(f)
        probs.append(torch.softmax(net.head(f), dim=1))  # (b, 10); dropout is off in eval mode
    net.train(was_training)
    return torch.cat(probs), torch.cat(feats)


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (C,), covariance (C, C)) in float64; the covariance uses n − 1 (needs n ≥ 2)."""
    f = features.double()
    if f.ndim != 2 or f.shape[0] < 2:
        raise InvalidArgument(f"feature statistics need at least 2 feature vectors (N, C), got "
                         f"{tuple(f.shape)}.")
    mu = f.mean(0)
    d = f - mu
    return mu, d.T @ d / (f.shape[0] - 1)


def _sqrt_psd(a: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues < 0 → 0)."""
    w, v = torch.linalg.eigh((a + a.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor,
                     cov2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein²) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂), float64:

    ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½.

    tr (Σ₁^½ Σ₂ Σ₁^½)^½ equals the usual tr (Σ₁ Σ₂)^½ but is the root of a symmetric PSD matrix, so
    symmetric eigendecompositions suffice (no complex parts to discard, no scipy).
    """
    mu1, mu2, cov1, cov2 = (a.double() for a in (mu1, mu2, cov1, cov2))
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.numel(),) * 2:
        raise InvalidArgument(f"shapes do not match: means {tuple(mu1.shape)}, {tuple(mu2.shape)}; "
                         f"covariances {tuple(cov1.shape)}, {tuple(cov2.shape)}.")
    s1 = _sqrt_psd(cov1)
    cross = torch.linalg.eigvalsh(s1 @ cov2 @ s1).clamp(min=0).sqrt().sum()
    d2 = (mu1 - mu2).square().sum() + cov1.trace() + cov2.trace() - 2 * cross
    return max(float(d2), 0.0)


_REFERENCE: dict = {}
_TEST_FEATURES: dict = {}


def _test_features(net: DigitClassifier) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (10000, C), labels (10000,)) of the MNIST test digits; cached per classifier, so
    the Fréchet reference and the diversity reference share one pass of the classifier."""
    key = id(net)
    if key not in _TEST_FEATURES or _TEST_FEATURES[key][0] is not net:
        from .datasets.mnist import load_mnist

        images, labels = load_mnist("test")
        _TEST_FEATURES[key] = (net, classifier_outputs(images, net)[1],
                               torch.as_tensor(labels).long())
    return _TEST_FEATURES[key][1:]


def reference_statistics(classifier: DigitClassifier | None = None):
    """(μ, Σ) of the classifier features of the 10 000 MNIST test digits; cached per classifier."""
    net = classifier if classifier is not None else default_classifier()
    key = id(net)
    if key not in _REFERENCE or _REFERENCE[key][0] is not net:
        _REFERENCE[key] = (net, feature_statistics(_test_features(net)[0]))
    return _REFERENCE[key][1]


def sample_quality(images, classifier: DigitClassifier | None = None,
                   threshold: float = 0.9) -> QualityReport:
    """Judge digit images (uint8 0..255, or floats in [−1, 1]; shape (N, 28, 28) or (N, 1, 28, 28)).

    Returns a :class:`QualityReport`: confident share (p_max > ``threshold``), argmax class
    histogram, smallest class share, and the classifier-feature Fréchet distance to MNIST test
    (not Inception FID). Use ≥ 1000 images for a Fréchet distance worth comparing.
    """
    net = classifier if classifier is not None else default_classifier()
    return _report(*classifier_outputs(images, net), net, threshold)


def _report(probs: torch.Tensor, feats: torch.Tensor, net, threshold: float) -> QualityReport:
    """The QualityReport of classifier outputs (N, 10) and features (N, C)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0.0 < threshold < 1.0:
        raise InvalidArgument(f"threshold must lie in (0, 1), got {threshold}.")
    n = len(probs)
    if n < 2:
        raise InvalidArgument(f"sample_quality needs at least 2 images (a covariance), got {n}.")
    counts = torch.bincount(probs.argmax(1), minlength=10)
    shares = counts.double() / n
    mu_ref, cov_ref = reference_statistics(net)
    mu, cov = feature_statistics(feats)
    return QualityReport(
        n=n, threshold=threshold,
        confident_share=float((probs.max(1).values > threshold).double().mean()),
        class_counts=tuple(int(c) for c in counts), class_shares=tuple(float(s) for s in shares),
        min_class_share=float(shares.min()), fid=frechet_distance(mu, cov, mu_ref, cov_ref),
        reference="MNIST test (10000 images)")


# ---- class-conditional samples ("draw me a 7") ------------------------------------------------

@dataclass(frozen=True)
class ConditionalReport:
    """Quality of digits drawn for requested classes (see :func:`conditional_quality`)."""

    n: int
    accuracy: float          # share classified as the requested digit
    min_class_accuracy: float
    confident_share: float   # share with max class probability > 0.9
    fid: float               # classifier-feature Fréchet distance to MNIST test (not Inception FID)
    diversity: float         # within-class feature spread relative to real digits' (1 = as varied)

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "min_class_accuracy": self.min_class_accuracy,
            "confident_share": self.confident_share,
            "fid": self.fid,
            "fid_kind": _FID_NAME,
            "diversity": self.diversity,
        }

    def __str__(self) -> str:
        return (f"{self.n} digits: {100 * self.accuracy:.1f} % the requested digit (worst class "
                f"{100 * self.min_class_accuracy:.1f} %), {100 * self.confident_share:.1f} % "
                f"confident, Fréchet {self.fid:.2f}, diversity {self.diversity:.2f} × real digits'")


def _within_class_spread(feats: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present of tr Σ_class (total variance of the features in the class)."""
    traces = [feature_statistics(feats[labels == c])[1].trace()
              for c in labels.unique() if int((labels == c).sum()) >= 2]
    if not traces:
        raise InvalidArgument("diversity needs at least 2 images of some requested class.")
    return float(torch.stack(traces).mean())


_REAL_SPREAD: dict = {}


def conditional_quality(images, labels, classifier: DigitClassifier | None = None,
                        threshold: float = 0.9) -> ConditionalReport:
    """Judge digits drawn for requested classes ``labels`` (int [N], 0..9) by the shipped
    classifier: accuracy (argmax = requested digit), its worst class, confident share,
    classifier-feature Fréchet distance to MNIST test, and **diversity**: the mean within-class
    feature variance (tr Σ of each requested class's features) divided by the same for the real
    test digits — guidance that is too strong gives near-copies of one prototype per class,
    diversity → 0.
    """
    net = classifier if classifier is not None else default_classifier()
    labels = torch.as_tensor(labels).long().flatten()
    probs, feats = classifier_outputs(images, net)
    report = _report(probs, feats, net, threshold)
    if labels.shape[0] != probs.shape[0] or labels.min() < 0 or labels.max() > 9:
        raise InvalidArgument(f"labels must be {probs.shape[0]} digits 0..9 (one per image), got "
                              f"shape {tuple(labels.shape)}.")
    right = (probs.argmax(1) == labels).double()
    per_class = [float(right[labels == c].mean()) for c in labels.unique()]
    key = id(net)
    if key not in _REAL_SPREAD or _REAL_SPREAD[key][0] is not net:
        _REAL_SPREAD[key] = (net, _within_class_spread(*_test_features(net)))
    return ConditionalReport(
        n=report.n,
        accuracy=float(right.mean()),
        min_class_accuracy=min(per_class),
        confident_share=report.confident_share,
        fid=report.fid,
        diversity=_within_class_spread(feats, labels) / _REAL_SPREAD[key][1],
    )
