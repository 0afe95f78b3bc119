""""Training finished but the samples are noise": check the usual causes, one finding each.

    report = diagnose(model, schedule, data=x_train, sampling_schedule=s, samples=x_gen)
    print(report)          # what was checked, what is wrong, and how to fix it
    report.ok              # True when nothing suspicious was found

What is checked (each only when the inputs it needs are given), by module:

* :mod:`~ddpm_edu.diagnose.data` — the data: outside [−1, 1], 8-bit pixels [0, 255] stored as
  floats, [0, 1] images (the verdict training and evaluation give too:
  :func:`ddpm_edu._checks.image_range_verdict`);
* :mod:`~ddpm_edu.diagnose.schedule` — time: the schedule used for sampling differs from the one of
  training (a respaced copy of it is fine); off-by-one time indexing (a model trained with 0-based
  t, as diffusers and improved-diffusion count, denoises better when told t − 1 than t);
* :mod:`~ddpm_edu.diagnose.model` — the network: NaN or inf weights (a diverged run); NaN outputs
  or outputs not shaped like x_t; an output that ignores t; no better than predicting ε̂ = 0
  (untrained, or the weights never loaded); the loss per t against that of the shipped ``mnist``
  model, ``load_pretrained("mnist")`` (:mod:`~ddpm_edu.diagnose.curve`,
  :func:`expected_loss_curve`, cached in ``data/checkpoints/mnist-loss-curve.json``);
* :mod:`~ddpm_edu.diagnose.samples` — samples: NaN, values far outside [−1, 1] (x̂_0 never
  clipped), or no structure at all (neighbouring pixels uncorrelated: the samples are still noise).

The model probes (:mod:`~ddpm_edu.diagnose.probe`) run the model on x_t ~ q(x_t | x_0) of held-out
images and use L_simple's ε-error mean((ε − ε̂)²), the quantity training minimises. Every finding
is a :class:`Finding` (what was seen, how to fix it) in a :class:`Diagnosis`
(:mod:`~ddpm_edu.diagnose.findings`). ``ddpm-edu diagnose`` runs it from the command line.
"""
from __future__ import annotations

from ..schedules import Schedule
from .curve import LossCurve, curve_timesteps, default_curve_path, expected_loss_curve, loss_curve
from .data import check_data, prepare_data
from .findings import SEVERITIES, Diagnosis, Finding
from .model import check_model, check_weights
from .probe import unwrap
from .samples import check_samples
from .schedule import check_schedules

__all__ = ["Finding", "Diagnosis", "diagnose", "check_data", "check_schedules", "check_weights",
           "check_samples", "check_model", "loss_curve", "curve_timesteps", "LossCurve",
           "expected_loss_curve", "default_curve_path", "SEVERITIES"]


def diagnose(model=None, schedule: Schedule | None = None, data=None,
             sampling_schedule: Schedule | None = None, samples=None, *,
             mean_type: str | None = None, expected_curve: LossCurve | None = None,
             n_probe: int = 64, seed: int = 0) -> Diagnosis:
    """Check a setup for the usual reasons why samples come out as noise; see the module docstring.

    Args:
        model: ``model(x_t, t) -> prediction`` (a network, a function, or a ``PretrainedModel``,
            whose schedule is then the default ``schedule``).
        schedule: the training schedule. data: training (or held-out) images as fed to the
            network: float in [−1, 1] or uint8 pixels, [N, C, H, W]. sampling_schedule: the one
            the sampler used. samples: generated samples (tensor, array or .npy path).
        mean_type: what ``model`` predicts ("eps", "x0", "mu"; default eps).
        expected_curve: a :class:`LossCurve` to compare the loss per t with
            (:func:`expected_loss_curve` gives the shipped model's).
        n_probe: images used by the model probes. seed: seed of the probes' noise.

    Returns a :class:`Diagnosis`; ``print`` it.
    """
    report = Diagnosis()
    fn_schedule = None
    if model is not None:
        _, module, fn_schedule, _ = unwrap(model)
        if module is not None:
            report += check_weights(module)
    schedule = schedule if schedule is not None else fn_schedule
    x = None
    if data is not None:
        found, x = prepare_data(data)
        report += found
    if sampling_schedule is not None:
        if schedule is None:
            report.append(Finding("schedule", "info", "a sampling schedule was given but no "
                                  "training schedule to compare it with"))
        else:
            report += check_schedules(schedule, sampling_schedule)
    if model is not None:
        report += _model_findings(report, model, schedule, data, x, mean_type, n_probe, seed,
                                  expected_curve)
    if samples is not None:
        report += check_samples(samples)
    if not report:
        report.append(Finding("inputs", "info", "nothing to check: give a model, a schedule, data, "
                              "a sampling schedule and/or samples"))
    return report


def _model_findings(report, model, schedule, data, x, mean_type, n_probe, seed, curve):
    """The model probes, or why they were skipped (the findings so far are in ``report``)."""
    if schedule is None:
        return [Finding("model", "info", "no schedule given: the model probes need the training "
                        "schedule (schedule=...)")]
    if data is None:
        return [Finding("model", "info", "no data given: the model probes need images (data=...)")]
    if x is None:
        return [Finding("model", "info", "model probes skipped: fix the data first")]
    if any(f.check == "weights" and f.severity == "error" for f in report):
        return []
    return check_model(model, schedule, x, mean_type=mean_type, n_probe=n_probe, seed=seed,
                       expected_curve=curve)
