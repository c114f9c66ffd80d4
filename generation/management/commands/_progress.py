import sys


class ProgressBar:
    """A one-line progress bar on a terminal; plain lines otherwise (logs, CI)."""

    def __init__(self, stream=None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self._last_percent = -1

    def __call__(self, done: int, total: int, message: str = "") -> None:
        percent = 100 * done // total if total else 100
        if self.tty:
            filled = self.width * percent // 100
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {percent:3d}% {message[:60]:<60}")
            if done >= total:
                self.stream.write("\n")
        elif percent // 10 != self._last_percent // 10 or done >= total:
            self.stream.write(f"{percent:3d}% {message}\n")
        self._last_percent = percent
        self.stream.flush()
