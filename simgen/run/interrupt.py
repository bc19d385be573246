"""Ctrl-C and SIGTERM as a request to stop, honoured within seconds even in the middle of a render.

Python runs signal handlers only between bytecodes, and a Cycles render is one long C call, so
a plain KeyboardInterrupt lands late, somewhere arbitrary (once inside a Blender destructor,
where it is swallowed). Instead the signal only sets a flag that the run checks at safe points
(between frames, while polling workers). Cycles releases the GIL while it renders, so a watchdog
thread, woken at once through the signal wakeup fd, can act when the main thread does not
reach a safe point in time: it takes the commit lock (so no journal line is half-written),
runs the same finalisation the run would (annotations.json, manifest status "interrupted"), and
ends the process. Either way the frame in flight is discarded whole and every finished frame
is kept.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_SECONDS = 2.0


class StopRequest:
    """Installed around a run: ``requested`` turns true on SIGINT/SIGTERM; ``signal_number`` says which."""

    def __init__(self, grace_seconds: float = GRACE_SECONDS):
        self.grace_seconds = grace_seconds
        self.signal_number: int | None = None
        self.commit_lock = threading.Lock()  # held while a frame is committed to the journal
        self._emergency: Callable[[int], None] | None = None
        self._requested = threading.Event()
        self._acknowledged = threading.Event()  # the run reached a safe point and is stopping by itself
        self._finished = threading.Event()
        self._previous: dict[int, object] = {}
        self._pipe: tuple[int, int] | None = None
        self._previous_fd = -1
        self._stderr = -1  # the terminal's stderr, kept: while Blender renders, fd 2 points into simgen.log

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    def acknowledge(self) -> None:
        """Called by the run at a safe point once it has seen the request: it finalises by itself."""
        self._acknowledged.set()

    def on_timeout(self, emergency: Callable[[int], None]) -> None:
        """What the watchdog runs (with the commit lock held) if the run does not stop by itself in time."""
        self._emergency = emergency

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is not threading.main_thread():
            return self  # signals go to the main thread only: a run started elsewhere is stopped by its caller
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        try:
            self._stderr = os.dup(sys.stderr.fileno())
        except (OSError, ValueError):
            self._stderr = -1
        self._pipe = (read_fd, write_fd)
        for number in STOP_SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)
        self._previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read_fd,), name="simgen-stop-watchdog", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._acknowledged.set()
        self._finished.set()
        if self._pipe is None:
            return
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        read_fd, write_fd = self._pipe
        self._pipe = None
        try:
            os.write(write_fd, b"\0")  # wake the watchdog so it ends
        except OSError:
            pass
        os.close(write_fd)
        if self._stderr >= 0:
            os.close(self._stderr)
            self._stderr = -1

    def say(self, message: str) -> None:
        """Print to the user's stderr even while Blender's output is redirected into the log."""
        text = (message + "\n").encode("utf-8", "replace")
        if self._stderr >= 0:
            try:
                os.write(self._stderr, text)
                return
            except OSError:
                pass
        sys.stderr.write(message + "\n")

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self._note(number)

    def _note(self, number: int) -> None:
        if self.signal_number is None:
            self.signal_number = number
        self._requested.set()

    def _watch(self, read_fd: int) -> None:
        try:
            while not self._finished.is_set():
                numbers = [b for b in os.read(read_fd, 16) if b in STOP_SIGNALS]
                if not numbers or self._acknowledged.is_set():
                    continue  # a second Ctrl-C while the run finalises by itself changes nothing
                self._note(numbers[0])
                if not self._acknowledged.wait(self.grace_seconds):
                    self._stop_now()
        finally:
            os.close(read_fd)

    def _stop_now(self) -> None:
        """The main thread is stuck in a long C call: finalise from here and end the process."""
        number = self.signal_number or signal.SIGINT
        with self.commit_lock:
            if self._acknowledged.is_set():
                return
            try:
                if self._emergency is not None:
                    self._emergency(number)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(128 + number)
