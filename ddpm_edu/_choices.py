"""The named choices of a training run, without torch, so that ``ddpm-edu train --help`` can list
them instantly. :class:`ddpm_edu.training.TrainConfig` validates against these tuples, and the
command line builds its choices and help from them (one list, two users)."""

LOSS_TYPES = ("simple", "vlb", "min_snr")
LR_SCHEDULES = ("constant", "cosine")
MEAN_TYPES = ("eps", "x0", "mu", "v")   # the values of ddpm_edu.reverse.MeanType (a test checks)
VAR_TYPES = ("fixed_small", "fixed_large")  # the values of ddpm_edu.reverse.VarianceType
MEMORY_FORMATS = ("contiguous", "channels_last", "auto")
