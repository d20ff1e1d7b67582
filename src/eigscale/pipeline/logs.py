"""The log a rule declares, written by the script that runs it."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def rule_log(path: str | Path) -> Iterator[logging.Logger]:
    """Inside: stdout, stderr, warnings and the `eigscale` logger go to `path`; an exception
    is written there with its traceback, then raised again (snakemake marks the job failed and
    points at the log)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("eigscale")
    with open(path, "w", encoding="utf-8") as f, contextlib.redirect_stdout(f), \
            contextlib.redirect_stderr(f):
        handler = logging.StreamHandler(f)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        targets = (log, logging.getLogger("py.warnings"))
        for target in targets:
            target.addHandler(handler)
        logging.captureWarnings(True)
        if log.level == logging.NOTSET:
            log.setLevel(logging.INFO)
        try:
            yield log
        except BaseException:
            traceback.print_exc(file=f)
            raise
        finally:
            logging.captureWarnings(False)
            for target in targets:
                target.removeHandler(handler)
