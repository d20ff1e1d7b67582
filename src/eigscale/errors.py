"""eigscale's errors: one base class, so a caller can catch everything eigscale refuses.

`ParamError` carries what it refused as attributes (`param`, `value`, `source`), as vLLM's
validation errors do: a caller or a test reads them instead of parsing the message.
"""

from __future__ import annotations

from typing import Any


class EigscaleError(Exception):
    """Base of every error eigscale raises on purpose."""


class ParamError(EigscaleError, ValueError):
    """A parameter has an unknown name, a wrong type or a malformed value.

    param: the offending key ("" when the error is about a combination of keys);
    value: the value given (None when there is none, e.g. an unknown key);
    source: where it came from (a file, "--gen_kwargs", "run 'eig_0.1'", ...).
    """

    def __init__(self, message: str, *, param: str = "", value: Any = None,
                 source: str = "") -> None:
        super().__init__(message)
        self.param = param
        self.value = value
        self.source = source
