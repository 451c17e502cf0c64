"""Errors the LoRA trainer raises on purpose. Messages are technical and name the file or setting; the context is
kept on attributes so `bot/` can word them for Discord users, and the command line prints them as they are.

GenerationError (generation.errors)
 └── TrainingError                  base of everything below
      ├── TrainingDataError         the training pictures are unusable (`problem`, `path`)
      ├── TrainingSettingsError     a setting is out of range or does not fit the model (`setting`)
      └── CheckpointError           a checkpoint cannot be resumed (damaged, or made with other settings)
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from generation.errors import GenerationError


class TrainingError(GenerationError):
    pass


class DataProblem(StrEnum):
    MISSING_FOLDER = "missing_folder"
    NOT_A_PICTURE = "not_a_picture"
    TOO_FEW = "too_few"
    TOO_MANY = "too_many"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    TOO_SMALL = "too_small"
    BAD_CAPTION = "bad_caption"


class TrainingDataError(TrainingError):
    def __init__(self, message: str, *, problem: DataProblem, path: Path | None = None) -> None:
        super().__init__(message)
        self.problem = problem
        self.path = path


class TrainingSettingsError(TrainingError):
    def __init__(self, message: str, *, setting: str = "") -> None:
        super().__init__(message)
        self.setting = setting


class CheckpointError(TrainingError):
    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path
