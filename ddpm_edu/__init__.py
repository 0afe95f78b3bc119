"""ddpm_edu — the library behind an interactive course on Denoising Diffusion Probabilistic Models.

Notation (one table, used everywhere in the code and the notebooks)
===================================================================

================================  ==============================  ==================================
paper                             ddpm_edu                        diffusers / improved-diffusion
================================  ==============================  ==================================
t = 1..T                          ``t`` (LongTensor, 1..T)        diffusers ``timesteps`` = t − 1;
                                                                  improved-diffusion ``t`` = t − 1
β_t                               ``schedule.beta[t]``            ``betas[t-1]``
α_t = 1 − β_t                     ``schedule.alpha[t]``           ``alphas[t-1]``
ᾱ_t = ∏ α_s                       ``schedule.alpha_bar[t]``       ``alphas_cumprod[t-1]``
ᾱ_{t−1}                           ``schedule.alpha_bar_prev[t]``  ``alphas_cumprod_prev[t-1]``
β̃_t (posterior variance)          ``schedule.posterior_variance`` ``posterior_variance``
q(x_t | x_0) sample               ``q_sample``                    ``add_noise`` / ``q_sample``
q(x_{t−1} | x_t, x_0)             ``q_posterior``                 ``q_posterior_mean_variance``
p_θ(x_{t−1} | x_t)                ``p_mean_variance``             ``step`` / ``p_mean_variance``
L_vlb terms, L_0 decoder          ``vlb_terms``,                  ``_vb_terms_bpd``,
                                  ``discretized_gaussian_log_     ``discretized_gaussian_log_
                                  likelihood``                    likelihood``
================================  ==============================  ==================================

Time indexing: t runs 1..T as in the paper. Every schedule table has length T+1 and index 0 is the
data (β_0 = 0, ᾱ_0 = 1), so ``schedule.alpha_bar[t]`` is ᾱ_t. diffusers and improved-diffusion count
0..T−1: their t is ours − 1 (their ``alphas_cumprod[0]`` is our ``alpha_bar[1]``). That shift is
made here and nowhere else; a network trained by this library is called with paper indices.

Flow matching (``ddpm_edu.flow``) has its own time s ∈ [0, 1], s = 0 the data and s = 1 the noise
(the direction of t; diffusers' ``FlowMatchEulerDiscreteScheduler`` calls it sigma). Its networks
see the integer k = s·K, K = ``ddpm_edu.flow.LEVELS`` = 1000, and a sampler's ``Step.t`` is that k.
A DDPM's step t sits at s = √(1−ᾱ_t)/(√ᾱ_t + √(1−ᾱ_t)) (``flow_from_vp``).

Units: ``*_bpd`` and the L_vlb functions return bits per dimension; ``normal_kl`` and
``discretized_gaussian_log_likelihood`` return nats per element.

Submodules are imported on first use, so ``import ddpm_edu`` is instant and pulls in neither torch
nor matplotlib, ipywidgets or imageio until something needs them.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name → submodule that defines it
_EXPORTS = {
    "schedules": [
        "Schedule",
        "linear_schedule",
        "cosine_schedule",
        "geometric_schedule",
        "schedule_from_betas",
        "schedule_from_config",
        "respace",
    ],
    "forward": [
        "q_step_sample",
        "q_mean_variance",
        "q_sample",
        "q_posterior",
        "predict_x0_from_eps",
        "predict_eps_from_x0",
        "predict_x0_from_mean",
    ],
    "reverse": [
        "MeanType",
        "VarianceType",
        "model_eps_x0",
        "p_mean_variance",
        "ddim_step",
        "eps_vlb_weight",
    ],
    "losses": [
        "normal_kl",
        "standard_normal_cdf",
        "approx_standard_normal_cdf",
        "discretized_gaussian_log_likelihood",
        "mean_flat",
        "nats_to_bits",
        "bits_to_nats",
        "prior_bpd",
        "vlb_term",
        "vlb_terms",
        "VLBTerms",
        "simple_loss",
    ],
    "pixels": ["to_model_range", "to_pixels"],
    "sampling": ["Step", "ddpm_steps", "ddim_steps", "sample", "keep_frames"],
    "training": [
        "TrainConfig",
        "TrainResult",
        "TrainingDiverged",
        "train",
        "resume_run",
        "loss_weights",
    ],
    "recipes": ["get_recipe", "recipe_names"],
    "pretrained": ["load_pretrained", "PretrainedModel"],
    "checkpoints": ["load_model", "read_metadata"],
    "score": ["score_from_eps", "eps_from_score", "langevin_steps", "pc_steps", "ode_steps",
              "ODEMethod"],
    "flow": ["straight_path", "velocity_target", "flow_matching_loss", "flow_from_vp",
             "velocity_from_eps", "eps_from_velocity", "flow_steps"],
    "gaussian_scores": ["GaussianClasses"],
    "evaluation": ["bpd_full", "bpd_fast", "BPDEstimate"],
    "diagnose": ["diagnose", "Diagnosis"],
    "datasets.mnist": ["load_mnist"],
    "datasets.flowers": ["load_flowers"],
    "datasets.single_image": ["load_single_image", "psnr_to_nearest"],
    "datasets.toy": ["two_moons"],
    "datasets.download": ["download", "DownloadError", "user_cache_dir"],
}
_WHERE = {name: mod for mod, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


# subpackages reachable as attributes (ddpm_edu.exercises.check(...)) without an explicit import
_SUBPACKAGES = {"exercises", "viz", "nets", "datasets"}


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"ddpm_edu.{name}")
        globals()[name] = module
        return module
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'ddpm_edu' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ddpm_edu.{mod}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
