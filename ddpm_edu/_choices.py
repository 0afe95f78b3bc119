"""The named choices of a training run, without torch, so that ``ddpm-edu train --help`` can list
them instantly. :class:`ddpm_edu.training.TrainConfig` validates against these tuples, and the
command line builds its choices and help from them (one list, two users). Likewise the defaults
that both the library and ``--help`` name."""

LOSS_TYPES = ("simple", "vlb", "min_snr")
LR_SCHEDULES = ("constant", "cosine")
MEAN_TYPES = ("eps", "x0", "mu", "v")   # the values of ddpm_edu.reverse.MeanType (a test checks)
VAR_TYPES = ("fixed_small", "fixed_large")  # the values of ddpm_edu.reverse.VarianceType
MEMORY_FORMATS = ("contiguous", "channels_last", "auto")

# classifier-free guidance weight w used when a conditional checkpoint recommends none (its
# metadata's extra.guidance; PretrainedModel.default_guidance, ddpm-edu sample/gif --guidance).
# Ho & Salimans 2022 (ImageNet 64) find FID best at small w (≈ 0.3) and Inception score rising up
# to w = 4; w = 2 is a middle choice, not tuned on MNIST. The course's conditional recipes save
# their own tuned value (ddpm_edu.recipes: w = 1), and so does the shipped mnist-cond.
DEFAULT_GUIDANCE = 2.0

# autoguidance weight w (ddpm_edu.chain.autoguided_model) when a guide is given without one: the
# value chosen for "mnist" guided by "mnist-guide" (1,000 DDIM-50 digits, eta = 1, seed 0: w = 0.5,
# 0.75, 1 gave 94.7, 95.3, 96.0 % confident and FID 0.92, 0.98, 1.27; the confident share is the
# target still short, so the largest; benchmarks/README.md, "Sampling the same network better").
DEFAULT_AUTOGUIDANCE = 1.0
