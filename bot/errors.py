"""Errors the bot raises on purpose. Their message is already the sentence a user reads.

UserFacingError            anything a user can fix; `str(err)` is one sentence to show them
 ├── UploadError           an attachment that cannot be used (too big, not an image, bad LoRA, ...)
 └── WebhookUnavailable    the bot cannot speak as a persona in this channel (Manage Webhooks missing)

Errors from the other packages are technical; `bot/messages.py` words them, and `bot/error_handler.py` answers
every app-command failure with that sentence (logging the unexpected ones with their context).
"""

from __future__ import annotations


class UserFacingError(Exception):
    pass


class UploadError(UserFacingError):
    pass


class WebhookUnavailable(UserFacingError):
    pass
