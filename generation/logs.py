"""Keeping the model libraries' chatter (deprecation notes, load reports) out of command-line output."""

from __future__ import annotations

import logging
import warnings


def quiet_library_logs() -> None:
    """Errors still show; warnings about optional backends and deprecations do not. Progress bars stay."""
    warnings.filterwarnings("ignore")
    for name in ("diffusers", "transformers", "peft", "huggingface_hub"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from diffusers.utils import logging as diffusers_logging
        from transformers.utils import logging as transformers_logging
    except ImportError:
        return
    diffusers_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
