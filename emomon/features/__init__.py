"""Feature front ends: functions of ``(samples, sample_rate)``."""

from .mel import FrontEnd, log_mel, mel_filterbank

__all__ = ["FrontEnd", "log_mel", "mel_filterbank"]
