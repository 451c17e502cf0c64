"""Training a persona's LoRA from its pictures (DreamBooth-style, peft LoRA on the UNet's attention), step by step,
inside the generation worker or from `selfiebot train-lora`. See docs/generation.md, "Training"."""

from generation.training.dataset import (
    TrainingExample,
    TrainingLimits,
    TrainingSet,
    load_training_folder,
    training_set_from_pictures,
)
from generation.training.errors import (
    CheckpointError,
    DataProblem,
    TrainingDataError,
    TrainingError,
    TrainingSettingsError,
)
from generation.training.evaluation import DenoisingProbe
from generation.training.export import LoraFormat, save_lora
from generation.training.settings import ModelFamily, TrainingSettings, recommended_settings
from generation.training.trainer import RunState, StepReport, TrainingRun

__all__ = [
    "CheckpointError",
    "DataProblem",
    "DenoisingProbe",
    "LoraFormat",
    "ModelFamily",
    "RunState",
    "StepReport",
    "TrainingDataError",
    "TrainingError",
    "TrainingExample",
    "TrainingLimits",
    "TrainingRun",
    "TrainingSet",
    "TrainingSettings",
    "TrainingSettingsError",
    "load_training_folder",
    "recommended_settings",
    "save_lora",
    "training_set_from_pictures",
]
