"""Progress bars with ETA for training, validation and testing, and a results table."""
import sys
import time
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from tqdm import tqdm

__all__ = ['ProgressBarHook', 'LineProgress', 'make_progress', 'format_metrics_table']

#: One line per report when the output is not a terminal (CI logs, files, pipes).
LINE_FORMAT = ('{desc}: {n_fmt}/{total_fmt} ({percentage:3.0f}%) '
               '[{elapsed}<{remaining}, {rate_fmt}{postfix}]')


class LineProgress:
    """A progress report for output that is not a terminal.

    tqdm redraws its bar with carriage returns, which a CI log or a file keeps as one
    ever-growing line. This prints a complete line (tqdm's own meter text: count,
    percentage, elapsed < remaining time, rate) at every ``1 / reports`` of the total and
    at the end, with the same ``update`` / ``set_postfix_str`` / ``close`` calls as tqdm.

    Args:
        total (int): Number of steps.
        desc (str): Label printed first.
        initial (int): Steps already done (a resumed run). Defaults to 0.
        file: Text stream. Defaults to ``sys.stdout`` at creation.
        reports (int): Lines over the whole total. Defaults to 10.
        unit (str): Step unit for the rate. Defaults to 'it'.
    """

    def __init__(self, total: int, desc: str, initial: int = 0, file=None,
                 reports: int = 10, unit: str = 'it') -> None:
        self.total, self.desc, self.initial, self.n = int(total), desc, int(initial), int(initial)
        self.file = file or sys.stdout
        self.unit = unit
        self.postfix = None
        self.start = time.perf_counter()
        self.every = max(1, -(-max(self.total - self.initial, 1) // max(1, reports)))
        self._last = self.initial
        self._closed = False

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.postfix = text

    def _line(self) -> str:
        return tqdm.format_meter(self.n, self.total, time.perf_counter() - self.start,
                                 prefix=self.desc, postfix=self.postfix,
                                 bar_format=LINE_FORMAT, unit=self.unit,
                                 initial=self.initial)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.n - self._last >= self.every or self.n >= self.total:
            self._last = self.n
            print(self._line(), file=self.file, flush=True)

    def close(self) -> None:
        if not self._closed and self.n != self._last:  # the final count, once
            print(self._line(), file=self.file, flush=True)
        self._closed = True


def make_progress(total: int, desc: str, initial: int = 0, unit: str = 'it', file=None,
                  leave: bool = True, reports: int = 10, min_interval_s: float = 0.5):
    """A tqdm bar on a terminal, a :class:`LineProgress` elsewhere (CI logs, files).

    Args:
        total (int): Number of steps.
        desc (str): Label.
        initial (int): Steps already done. Defaults to 0.
        unit (str): Step unit. Defaults to 'it'.
        file: Text stream; None = ``sys.stdout`` now. Defaults to None.
        leave (bool): Keep the finished tqdm bar on screen. Defaults to True.
        reports (int): Lines over the total when not a terminal. Defaults to 10.
        min_interval_s (float): Minimum seconds between tqdm redraws. Defaults to 0.5.

    Returns:
        tqdm | LineProgress: with ``update``, ``set_postfix_str`` and ``close``.
    """
    file = file or sys.stdout
    if getattr(file, 'isatty', lambda: False)():
        return tqdm(total=total, initial=initial, desc=desc, file=file, dynamic_ncols=True,
                    mininterval=min_interval_s, leave=leave, unit=unit)
    return LineProgress(total, desc, initial=initial, file=file, reports=reports, unit=unit)


def format_metrics_table(metrics: Dict[str, float]) -> str:
    """Markdown table of a metrics dict: one header row, one value row.

    Counts (integers, and the integral floats of ``num_*`` keys: the depth metric returns
    its counts as floats for mmengine's JSON log) are printed as integers, other numbers
    with 4 decimals.
    """
    def fmt(key, v):
        v = v.item() if hasattr(v, 'item') else v  # numpy / torch scalars
        if isinstance(v, float):
            if key.startswith('num_') and v.is_integer():
                return str(int(v))
            return f'{v:.4f}'
        return str(v)

    keys = list(metrics)
    return '\n'.join(['| ' + ' | '.join(keys) + ' |', '|' + '---|' * len(keys),
                      '| ' + ' | '.join(fmt(k, metrics[k]) for k in keys) + ' |'])


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """A progress bar with ETA per phase (train, val, test) and the metrics at the end.

    On a terminal it draws tqdm bars (the train bar shows the loss; a validation during
    training gets a second bar below it, removed when done); elsewhere (CI logs, files)
    it prints one complete line at every tenth of a phase instead of carriage-return
    redraws (:class:`LineProgress`). Only rank 0 reports, so a distributed run shows one
    bar. A resumed run starts its bar at the resumed iteration and says so.

    ``tools/train.py``, ``tools/test.py`` and ``tools/quickstart.py`` add it (with the
    console reduced to warnings; the full log goes to the work dir) unless
    ``--verbose`` is given, which shows mmengine's own log lines instead.

    Args:
        show_metrics (bool): Print the metrics of every validation / test as a table.
            Defaults to True.
        reports (int): Lines per phase when the output is not a terminal. Defaults to 10.
        min_interval_s (float): Minimum seconds between terminal redraws. Defaults to 0.5.
    """

    priority = 'VERY_LOW'

    def __init__(self, show_metrics: bool = True, reports: int = 10,
                 min_interval_s: float = 0.5) -> None:
        self.show_metrics = show_metrics
        self.reports = reports
        self.min_interval_s = min_interval_s
        self._bars = {}
        self._enabled = True

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _stream():
        return sys.stdout

    def _open(self, phase: str, total: int, initial: int = 0, nested: bool = False):
        bar = make_progress(total, phase, initial=initial, file=self._stream(),
                            leave=not nested, reports=self.reports,
                            min_interval_s=self.min_interval_s)
        self._bars[phase] = bar
        return bar

    def _close(self, phase: str) -> None:
        bar = self._bars.pop(phase, None)
        if bar is not None:
            bar.close()

    def _write(self, text: str) -> None:
        if any(isinstance(b, tqdm) for b in self._bars.values()):
            tqdm.write(text, file=self._stream())  # keeps the live bars intact
        else:
            print(text, file=self._stream(), flush=True)

    def _report(self, phase: str, metrics: Optional[Dict[str, float]]) -> None:
        if self.show_metrics and metrics:
            self._write(f'[{phase}] metrics:\n{format_metrics_table(metrics)}')

    @staticmethod
    def _length(loader) -> int:
        try:
            return len(loader)
        except TypeError:  # an infinite sampler has no length
            return 0

    # ------------------------------------------------------------------ hooks
    def before_run(self, runner) -> None:
        self._enabled = is_main_process()

    def before_train(self, runner) -> None:
        if not self._enabled:
            return
        if runner.iter > 0:
            self._write(f'[train] resumed at iteration {runner.iter} of {runner.max_iters}')
        self._open('train', runner.max_iters, initial=runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        bar = self._bars.get('train')
        if bar is None:
            return
        if isinstance(outputs, dict) and 'loss' in outputs:
            loss = outputs['loss']
            loss = loss.detach() if hasattr(loss, 'detach') else loss
            try:
                bar.set_postfix_str(f'loss={float(loss):.4g}', refresh=False)
            except (TypeError, ValueError):  # not a scalar: no loss shown
                pass
        bar.update(1)

    def after_train(self, runner) -> None:
        self._close('train')

    def before_val_epoch(self, runner) -> None:
        if self._enabled:
            self._open('val', self._length(runner.val_dataloader),
                       nested='train' in self._bars)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs=None) -> None:
        if 'val' in self._bars:
            self._bars['val'].update(1)

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if 'val' in self._bars:
            self._close('val')
            self._report(f'val, iteration {runner.iter}' if 'train' in self._bars
                         else 'val', metrics)

    def before_test_epoch(self, runner) -> None:
        if self._enabled:
            self._open('test', self._length(runner.test_dataloader))

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        if 'test' in self._bars:
            self._bars['test'].update(1)

    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        if 'test' in self._bars:
            self._close('test')
            self._report('test', metrics)
