"""Progress reporting for long work: one tqdm bar on stderr, silent by default.

Every estimator and function with a ``verbose`` parameter reports through
:func:`progress_bar`: a :class:`tqdm.tqdm` bar (elapsed time, rate and ETA)
when ``verbose`` is true, and a no-op object with the same methods otherwise,
so the calling code never branches on ``verbose``. Solvers take a *progress
callable*, called as ``progress(done, total)`` after each unit of work; a bar
is such a callable.
"""

import sys

__all__ = ["progress_bar"]


def progress_bar(desc, total=None, *, verbose=0, unit="step", leave=None):
    """A progress bar over ``total`` units of work, or a silent stand-in.

    Parameters
    ----------
    desc : str
        Label shown before the bar (the estimator's or function's name and
        what is counted, e.g. ``"DelayedRidge folds"``).
    total : int or None, default=None
        Units of work; may be set later by calling the bar as
        ``bar(done, total)``.
    verbose : int or bool, default=0
        Show the bar when true.
    unit : str, default="step"
        Name of a unit of work.
    leave : bool or None, default=None
        Keep the finished bar on screen (tqdm's ``leave``); ``None`` keeps it
        for a top-level bar only.

    Returns
    -------
    bar : _Bar
        A context manager with ``update(n=1)``, ``set_postfix_str(text)``,
        ``write(text)``, ``close()``, and ``bar(done, total=None)`` to set
        the count (the solvers' progress callable).
    """
    return _Bar(desc, total, enabled=bool(verbose), unit=unit, leave=leave)


class _Bar:
    """A tqdm bar created lazily (tqdm imported only when shown)."""

    def __init__(self, desc, total, *, enabled, unit, leave):
        self._tqdm = None
        if enabled:
            from tqdm.auto import tqdm

            self._tqdm = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                file=sys.stderr,
                leave=leave,
                dynamic_ncols=True,
            )

    @property
    def enabled(self):
        """Whether the bar is shown."""
        return self._tqdm is not None

    def __call__(self, done, total=None):
        """Set the count to ``done`` (of ``total`` when given)."""
        if self._tqdm is None:
            return
        if total is not None and total != self._tqdm.total:
            self._tqdm.total = total
        self._tqdm.update(done - self._tqdm.n)

    def update(self, n=1):
        """Advance by ``n`` units."""
        if self._tqdm is not None:
            self._tqdm.update(n)

    def set_postfix_str(self, text):
        """Show ``text`` after the bar (e.g. the current validation score)."""
        if self._tqdm is not None:
            self._tqdm.set_postfix_str(text, refresh=True)

    def write(self, text):
        """Print a line above the bar (without breaking it)."""
        if self._tqdm is not None:
            self._tqdm.write(text, file=sys.stderr)

    def close(self):
        """Finish the bar."""
        if self._tqdm is not None:
            self._tqdm.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False
