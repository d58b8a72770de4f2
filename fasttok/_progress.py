"""Progress lines on stderr, shared by the fasttok and lm command lines.

On a terminal a progress line is rewritten in place with ``\\r``; anywhere else (a log file, CI, a pipe)
each update is its own line, so a log holds a readable history instead of thousands of carriage returns.
A line that is still open is ended before anything else is printed to stderr through `message`, and before
a warning is shown while `Progress` is active as a context manager, so warnings never run into it.
"""
import sys
import time
import warnings

__all__ = ["Progress"]


class Progress:
    """``with Progress("training", unit="merges") as p: train(progress=p)``; `p(done, total)` reports.

    `p.message(text)` prints a line of its own (ending an open progress line first); `p.seconds` is the
    time since the object was made, so a report made at the end covers the whole command.
    """

    def __init__(self, label, *, unit="", stream=None, enabled=True, min_interval=0.0):
        self.label = label
        self.unit = unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.start = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._open = False  # a \r line is on screen without its newline
        self._min_interval = min_interval
        self._last = -1.0
        self._saved_showwarning = None

    @property
    def seconds(self):
        return time.perf_counter() - self.start

    def __call__(self, done, total=None):
        if not self.enabled:
            return
        now = time.perf_counter()
        finished = total is not None and done >= total
        if not finished and now - self._last < self._min_interval:
            return
        self._last = now
        unit = f" {self.unit}" if self.unit else ""
        if total:
            text = f"{self.label}: {done}/{total}{unit} ({100.0 * done / total:5.1f}%, {self.seconds:.1f}s)"
        else:
            text = f"{self.label}: {done}{unit} ({self.seconds:.1f}s)"
        if self._tty:
            self.stream.write("\r" + text)
            self._open = True
            if finished:
                self.end()
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self):
        """Finish an open terminal line, so that whatever is printed next starts on a line of its own."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def message(self, text):
        self.end()
        print(text, file=self.stream, flush=True)

    def __enter__(self):
        self._saved_showwarning = warnings.showwarning
        saved = self._saved_showwarning

        def showwarning(*args, **kwargs):
            self.end()
            saved(*args, **kwargs)
        warnings.showwarning = showwarning
        return self

    def __exit__(self, *exc):
        self.end()
        warnings.showwarning = self._saved_showwarning
        return False
