"""The watchdog of a live input device: is audio still coming, is it more than digital silence?

A live device can fail without an error: a PulseAudio pipe source whose writer stalls or closes
delivers nothing, a killed sound server leaves PortAudio waiting forever, an unloaded source is
replaced by a silent fallback that delivers exact zeros. :class:`InputWatchdog` turns each into
a message and a decision. The audio callback tells it when audio arrives (:meth:`heard`); a
watch thread asks it what to do (:meth:`check`, :meth:`expired`) a few times a second:

* no audio for half of ``stall_timeout`` → a warning; for ``stall_timeout`` → a
  :class:`~emomon.errors.DeviceError` (the session stops);
* nothing but exact zeros for ``stall_timeout`` (at most half of ``silence_timeout``) → a
  warning ("the device delivers digital silence"): no microphone gives exact zeros for
  seconds, a muted or vanished source does; for ``silence_timeout`` → a
  :class:`~emomon.errors.DeviceError`;
* ``duration`` seconds after the stream started → :meth:`expired` (``--duration`` counts wall
  time on a live device, so a device that delivers nothing cannot keep a session going).

A timeout of ``None`` (or 0) is off. Times are ``time.monotonic()`` seconds, passed in, so the
logic runs without a device or a clock.
"""

from __future__ import annotations

import logging

from .. import defaults
from ..errors import DeviceError

log = logging.getLogger(__name__)


def _off_if_zero(value: float | None) -> float | None:
    """``None`` for ``None`` or 0 (a timeout that is off), else the value as a float."""
    return float(value) if value else None


class InputWatchdog:
    """Decides, from when audio last came and when it was last not exact zeros, whether a live
    input is still alive (see the module's docstring). ``what`` names the device in messages,
    e.g. ``"device 'pulse'"``; ``start`` is when the stream started."""

    def __init__(self, what: str, start: float, stall_timeout: float | None = defaults.STALL_TIMEOUT_S,
                 silence_timeout: float | None = defaults.SILENCE_TIMEOUT_S, duration: float | None = None) -> None:
        self.what = what
        self.stall_timeout = _off_if_zero(stall_timeout)
        self.silence_timeout = _off_if_zero(silence_timeout)
        warn = self.stall_timeout or defaults.STALL_TIMEOUT_S
        self.silence_warn = min(warn, self.silence_timeout / 2) if self.silence_timeout else warn
        self.duration = _off_if_zero(duration)
        self.start = start
        self.last_audio = start  # when the last block arrived (the start until one does)
        self.last_sound = start  # when the last block with a non-zero sample arrived
        self.blocks = 0  # blocks of audio heard
        self._stall_warned = False
        self._silence_warned = False

    def heard(self, now: float, nonzero: bool) -> None:
        """A block of audio arrived at ``now``; ``nonzero``: it holds a sample that is not 0.
        Runs in the audio callback: plain assignments only."""
        self.last_audio = now
        self.blocks += 1
        if nonzero:
            self.last_sound = now

    def expired(self, now: float) -> bool:
        """Whether ``duration`` seconds have passed since the start (wall time)."""
        return self.duration is not None and now - self.start >= self.duration

    def check(self, now: float) -> DeviceError | None:
        """The error that ends the session (no audio, or digital silence, for too long), or
        ``None``; logs a warning once when either begins, and a note when audio comes back."""
        problem = self._check_stall(now - self.last_audio)
        if problem is None and now - self.last_audio < 1.0:  # audio is coming: is it more than zeros?
            problem = self._check_silence(now - self.last_sound)
        return problem

    def _check_stall(self, idle: float) -> DeviceError | None:
        stall = self.stall_timeout
        if stall is None:
            return None
        if idle >= stall:
            return DeviceError(self.what, f"no audio for {idle:.1f} s: the input stream stalled (is the device, "
                                          "or its sound server, still there? --stall-timeout sets how long to wait)")
        if idle >= stall / 2 and not self._stall_warned:
            self._stall_warned = True
            log.warning("%s: no audio for %.1f s; stopping if none comes within %g s", self.what, idle, stall)
        elif idle < stall / 2 and self._stall_warned:
            self._stall_warned = False
            log.warning("%s: audio is coming again", self.what)
        return None

    def _check_silence(self, silent: float) -> DeviceError | None:
        limit = self.silence_timeout
        if limit is not None and silent >= limit:
            return DeviceError(self.what, f"delivers digital silence (exact zeros) for {silent:.0f} s: it is muted "
                                          "or its source is gone (--silence-timeout 0 keeps listening)")
        if silent >= self.silence_warn and not self._silence_warned:
            self._silence_warned = True
            until = f"; stopping after {limit:g} s of it" if limit is not None else ""
            log.warning("%s: the device delivers digital silence (exact zeros for %.1f s): it is muted, or its "
                        "source is gone (PulseAudio falls back to a silent source when one is removed)%s",
                        self.what, silent, until)
        elif silent < self.silence_warn and self._silence_warned:
            self._silence_warned = False
            log.warning("%s: sound is coming again (no longer digital silence)", self.what)
        return None
