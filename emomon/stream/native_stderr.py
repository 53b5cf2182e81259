"""Keep the audio library's C diagnostics off the user's screen while a device stream is open.

PortAudio's ALSA host API prints lines such as ``Expression 'alsa_snd_pcm_poll_descriptors_revents(
...)' failed in 'src/hostapi/alsa/pa_linux_alsa.c', line: 3665`` straight to file descriptor 2
when a device or its sound server goes away (and ALSA prints ``ALSA lib ...`` lines); emomon's
own one-line error says what happened. :class:`NativeStderrFilter` points descriptor 2 at a pipe
while a stream is open: a thread reads it, keeps those lines off the screen (``EMOMON_DEBUG=1``
shows them) and passes every other line on to the real stderr at once.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading

log = logging.getLogger(__name__)

NATIVE_NOISE = re.compile(r"^(ALSA lib |Expression '.*' failed in 'src/hostapi/)")


class NativeStderrFilter:
    """Filters file descriptor 2 between :meth:`start` and :meth:`stop` (no-op where descriptor
    2 cannot be redirected). ``swallowed`` counts the lines kept off the screen."""

    def __init__(self) -> None:
        self.swallowed = 0
        self._after_noise = False  # the last line was noise: a blank line after it is its own (ALSA's pulse plugin)
        self._saved: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Point descriptor 2 at a pipe read by a forwarding thread."""
        if self._saved is not None or os.name != "posix":
            return
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            read, write = os.pipe()
            os.dup2(write, 2)
            os.close(write)
        except (OSError, ValueError, AttributeError):
            log.debug("cannot filter stderr", exc_info=True)
            return
        self._saved = saved
        self._thread = threading.Thread(target=self._forward, args=(read, saved), name="emomon-stderr", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 0.5) -> None:
        """Give descriptor 2 back to the real stderr; the thread passes on what is left and ends."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread reads to its end
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # something still holds the pipe: leave the thread its descriptor
                return
        os.close(saved)

    def _forward(self, read: int, out: int) -> None:
        """Read the pipe line by line until its end: noise to the debug log, the rest to ``out``."""
        rest = b""
        try:
            while True:
                data = os.read(read, 65536)
                if not data:
                    break
                *lines, rest = (rest + data).split(b"\n")
                for line in lines:
                    self._line(line + b"\n", out)
            if rest:
                self._line(rest, out)
        except OSError:
            log.debug("stderr filter stopped", exc_info=True)
        finally:
            os.close(read)

    def _line(self, line: bytes, out: int) -> None:
        """Pass ``line`` on to ``out``, or count it as noise (shown with the debug log on: written
        to ``out`` directly, as logging would write into this very pipe); a blank line right after
        a noise line is part of it (ALSA's pulse plugin ends its messages with one)."""
        text = line.decode("utf-8", "replace")
        blank_after_noise = self._after_noise and not text.strip()
        self._after_noise = bool(NATIVE_NOISE.match(text))
        if blank_after_noise:
            return
        if self._after_noise:
            self.swallowed += 1
            if not log.isEnabledFor(logging.DEBUG):
                return
            line = b"emomon: DEBUG: audio library: " + line
        try:
            os.write(out, line)
        except OSError:
            pass


class SharedNativeStderr:
    """A hold on the one :class:`NativeStderrFilter` of the process, for one open stream.

    Descriptor 2 is one per process: two filters started one after the other would chain (the
    second forwarding into the first) and the first could not end while the second holds its
    pipe. Every stream therefore holds the same filter: the first :meth:`start` starts it, the
    last :meth:`stop` stops it. Each hold's :meth:`start`/:meth:`stop` may be called more than once.
    """

    _lock = threading.Lock()
    _filter = NativeStderrFilter()
    _holders = 0

    def __init__(self) -> None:
        self._held = False

    def start(self) -> None:
        cls = type(self)
        with cls._lock:
            if self._held:
                return
            self._held = True
            cls._holders += 1
            if cls._holders == 1:
                cls._filter.start()

    def stop(self) -> None:
        cls = type(self)
        with cls._lock:
            if not self._held:
                return
            self._held = False
            cls._holders -= 1
            if cls._holders == 0:
                cls._filter.stop()

    @property
    def swallowed(self) -> int:
        """Lines kept off the screen by the shared filter so far (every stream's)."""
        return type(self)._filter.swallowed
