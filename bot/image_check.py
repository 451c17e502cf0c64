"""Looking at the finished picture before anyone sees it: a picture that must stay clothed is withheld when the
image classifier finds nudity (`generation/nudity.py`, the optional `.[nudity]` extra).

`IMAGE_CHECK=auto` (default) checks every picture that must stay clothed when the extra is installed and logs once
that only the text policy applies when it is not; `on` requires it (start-up fails without it); `off` skips it.
"""

from __future__ import annotations

import asyncio
import logging

from PIL import Image

from generation.nudity import NudityDetector

log = logging.getLogger(__name__)

WITHHELD = "I took that one but it didn't come out right, so I'm not sending it. Ask me for another?"


class ImageCheckUnavailable(RuntimeError):
    """IMAGE_CHECK=on but the detector package is not installed."""


class ImageCheck:
    def __init__(self, mode: str = "auto", *, threshold: float | None = None) -> None:
        self.mode = mode
        self._detector: NudityDetector | None = None
        if mode == "off":
            return
        if not NudityDetector.available():
            if mode == "on":
                raise ImageCheckUnavailable(
                    "IMAGE_CHECK=on needs the image classifier: pip install 'selfiebot[nudity]'."
                )
            log.warning("image check not installed (pip install 'selfiebot[nudity]'); the text policy alone applies")
            return
        self._detector = NudityDetector(threshold=threshold) if threshold else NudityDetector()

    async def warm_up(self) -> None:
        """Load the classifier now (off the event loop), so the first selfie does not wait for it."""
        if self._detector is not None:
            await asyncio.to_thread(self._detector.load)

    @property
    def active(self) -> bool:
        return self._detector is not None

    async def withhold(self, image: Image.Image, *, must_stay_clothed: bool) -> bool:
        """True when this picture must not be posted (it must stay clothed and the classifier found nudity)."""
        if not must_stay_clothed or self._detector is None:
            return False
        verdict = await self._detector.check_async(image)
        if verdict.nude:
            log.warning("withheld a picture: the image check found %s (score %.2f)", verdict.labels, verdict.score)
        return verdict.nude
