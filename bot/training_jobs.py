"""`/persona train` behind the command: the training set, the training in the generation worker, its progress
message, the before/after contact sheet, and Apply / Discard.

A training is recorded (`TrainingRecords`) before it starts and keeps everything in its folder,
DATA_DIR/training/<guild>-<persona>-v<version>/: `pictures/` (the training pictures with their .txt captions),
`checkpoint/` and, when done, `lora.safetensors`. A restart finds the running row and resumes from the checkpoint.
Every training picture passes the image check and every caption the text policy; the pictures a persona draws for
itself ("bootstrap", when it has a single reference) go through the same selfie path as any selfie.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from PIL import Image

from bot import safety, uploads
from bot.assets import discard as discard_files
from bot.contact_sheet import contact_sheet
from bot.errors import UserFacingError
from bot.image_check import ImageCheck
from bot.messages import generation_words
from bot.pictures import PictureRefused, scene_request
from bot.progress import Throttle
from bot.settings import Settings
from bot.training_store import TrainingRecord, TrainingRecords, TrainingState
from generation.engine import Engine
from generation.errors import GenerationError, ServiceClosedError
from generation.identity import IdentityError, IdentityScore
from generation.service import GenerationService, TrainingBusy
from generation.training import (
    DataProblem,
    RunState,
    StepReport,
    TrainingError,
    TrainingRun,
    load_training_folder,
    recommended_settings,
)
from personas.models import Persona, SceneState
from personas.prompting import describe_scene
from personas.store import PersonaStore

if TYPE_CHECKING:
    from bot.services import BotServices

log = logging.getLogger(__name__)

TRIGGER = "ohwx"  # the rare token DreamBooth-style LoRAs are usually trained on; one LoRA per persona
MIN_PICTURES = 3
BOOTSTRAP_PICTURES = 6
MAX_ATTACHED = 4
BOOTSTRAP_SCENES = (
    SceneState(location="beach", outfit="summer dress", time_of_day="sunset"),
    SceneState(location="cozy cafe", outfit="knit sweater", activity="drinking coffee"),
    SceneState(location="city street", outfit="leather jacket", time_of_day="night"),
    SceneState(location="park", outfit="raincoat", weather="rain"),
    SceneState(location="library", outfit="cardigan", activity="reading"),
    SceneState(location="mountain trail", outfit="hiking jacket", time_of_day="morning"),
)
SHEET_SCENES = BOOTSTRAP_SCENES[:3]


def class_word_for(persona: Persona) -> str:
    """The class the persona belongs to, for captions ("ohwx woman"): from its appearance, else "person"."""
    words = {w.strip(",.;").casefold() for w in persona.appearance.split()}
    for word in ("woman", "man"):
        if word in words:
            return word
    return "person"


def _seconds(value: float) -> str:
    value = int(round(value))
    return f"{value // 60} min {value % 60} s" if value >= 60 else f"{value} s"


def progress_text(name: str, report: StepReport) -> str:
    return (
        f"Training **{name}**'s look: step {report.step}/{report.total} · loss {report.loss:.4f} · "
        f"about {_seconds(report.seconds_left)} left"
    )


class TrainingJobs:
    def __init__(
        self,
        *,
        services: BotServices,
        find_channel: Callable[[int], object],
        make_view: Callable[[str, int], discord.ui.View],
    ) -> None:
        self.services = services
        self.settings: Settings = services.settings
        self.store: PersonaStore = services.store
        self.records = TrainingRecords(services.bot_store.database)
        self.service: GenerationService = services.service
        self.engine: Engine = services.engine
        self.image_check: ImageCheck = services.image_check
        self._find_channel = find_channel
        self._view = make_view  # make_view("progress" | "result", run_id): the buttons (bot/cogs/persona_training.py)
        self._cancel: dict[int, threading.Event] = {}
        self._tasks: set[asyncio.Task] = set()

    # ----- starting -------------------------------------------------------------------------------------------

    async def start(
        self, *, persona: Persona, channel, requester_id: int, attached: list[bytes], steps: int | None
    ) -> int:
        """Check the input, record the training and start it in the background; its id. Raises UserFacingError
        (one sentence) for bad input or when a training already runs, with nothing recorded or queued."""
        if not hasattr(self.service, "train"):  # the Ray Serve backend trains nowhere yet
            raise UserFacingError(
                "Training runs only with the in-process generation backend (GENERATION_BACKEND=local)."
            )
        if len(attached) > MAX_ATTACHED:
            raise UserFacingError(f"Attach at most {MAX_ATTACHED} pictures to a training.")
        if self.service.training_busy or await self.records.running():
            raise UserFacingError("A training is already running; wait for it to finish or cancel it.")
        references = await self.store.reference_paths(persona.guild_id, persona.id)
        pictures: list[Image.Image] = []
        for path in references:
            pictures.append(await asyncio.to_thread(_open_picture, Path(path).read_bytes()))
        for data in attached:
            await asyncio.to_thread(uploads.check_reference, data)  # caps, format, size: UploadError
            pictures.append(await asyncio.to_thread(_open_picture, data))
        for picture in pictures:
            if await self.image_check.withhold(picture, must_stay_clothed=True):
                raise UserFacingError("One of the pictures cannot be used for training; use other pictures.")
        bootstrap = len(pictures) < MIN_PICTURES and len(references) == 1 and not attached
        bootstrap = bootstrap and self.engine.supports_references
        if len(pictures) < MIN_PICTURES and not bootstrap:
            raise UserFacingError(
                f"A training needs at least {MIN_PICTURES} pictures of {persona.name}; attach more (up to "
                f"{MAX_ATTACHED}), or give it a single reference picture so it can draw its own."
            )
        class_word = class_word_for(persona)
        caption = f"a photo of {TRIGGER} {class_word}"
        if not safety.check_picture(persona, None, request=caption, prompt=caption).allowed:
            raise UserFacingError(f"{persona.name}'s description cannot be used for training; change it first.")
        folder = self.settings.data_dir / "training" / f"{persona.guild_id}-{persona.id}-v{persona.version}"
        resolution = recommended_settings(self.engine.pipe, TRIGGER).resolution
        await asyncio.to_thread(_fresh_folder, folder, pictures)
        if not bootstrap:
            try:  # the trainer's own checks (count, caps, pictures too small) before anything is queued
                usable = await asyncio.to_thread(load_training_folder, folder / "pictures", trigger=TRIGGER)
                usable.usable_at(resolution)
            except TrainingError as error:
                await asyncio.to_thread(shutil.rmtree, folder, True)
                raise UserFacingError(_data_words(error)) from None
        run_id = await self.records.add(
            guild_id=persona.guild_id,
            channel_id=channel.id,
            persona_id=persona.id,
            persona_version=persona.version,
            requester_id=requester_id,
            steps=steps or recommended_settings(self.engine.pipe, TRIGGER).steps,
            trigger_word=TRIGGER,
            class_word=class_word,
            folder=str(folder),
            bootstrap=bootstrap,
        )
        if run_id is None:
            raise UserFacingError("A training is already running; wait for it to finish or cancel it.")
        if not bootstrap:
            (folder / "pictures.ready").touch()
        record = await self.records.get(run_id)
        self._launch(record, persona, channel)
        return run_id

    async def resume_pending(self) -> None:
        """At start-up: go on with every training a restart interrupted (from its checkpoint)."""
        for record in await self.records.running():
            persona = await self.store.get_persona_by_id(record.guild_id, record.persona_id)
            channel = self._find_channel(record.channel_id)
            if persona is None or channel is None or not Path(record.folder).is_dir():
                await self.records.move(record.id, TrainingState.FAILED, source=TrainingState.RUNNING,
                                        outcome="persona, channel or training folder gone")  # fmt: skip
                continue
            log.info("resuming LoRA training %d of persona %d", record.id, record.persona_id)
            self._launch(record, persona, channel)

    def _launch(self, record: TrainingRecord, persona: Persona, channel) -> None:
        self._cancel[record.id] = threading.Event()
        task = asyncio.create_task(self._run(record, persona, channel), name=f"training-{record.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----- the training ----------------------------------------------------------------------------------------

    async def _run(self, record: TrainingRecord, persona: Persona, channel) -> None:
        cancel = self._cancel[record.id]
        message = await self._progress_message(record, channel, f"Training **{persona.name}**'s look: getting ready…")
        throttle = Throttle(lambda text: self._edit(message, content=text), self.settings.progress_interval_s)
        folder = Path(record.folder)
        try:
            note = ""
            if not (folder / "pictures.ready").exists():
                note = await self._bootstrap(record, persona, folder, throttle, cancel)
            training_set = await asyncio.to_thread(
                load_training_folder, folder / "pictures", trigger=record.trigger_word, class_word=record.class_word
            )
            settings = recommended_settings(self.engine.pipe, record.trigger_word, steps=record.steps)
            engine = self.engine

            def start() -> TrainingRun:
                return TrainingRun(
                    engine.pipe, training_set, settings, checkpoint_dir=folder / "checkpoint", resume=True,
                    before_step=engine.switch_ip_adapter_off, model_label=engine.model_label,
                )  # fmt: skip

            state = await self.service.train(
                start,
                export_to=folder / "lora.safetensors",
                on_progress=lambda report: throttle.show(progress_text(persona.name, report) + note),
                cancel_event=cancel,
            )
            await throttle.close()
            if state is RunState.CANCELLED:
                await self._end(record, message, TrainingState.CANCELLED, f"Training of **{persona.name}** cancelled.")
                return
            # The note (what the bootstrap kept) stays visible: a fast run may show no step line at all.
            await self._edit(
                message, content=f"Training **{persona.name}**'s look: done, drawing the comparison…{note}"
            )
            await self._finish(record, persona, channel, message, folder / "lora.safetensors")
        except _Cancelled:
            await self._end(record, message, TrainingState.CANCELLED, f"Training of **{persona.name}** cancelled.")
        except ServiceClosedError:
            log.info("training %d interrupted by shutdown; it resumes at the next start", record.id)
        except (UserFacingError, TrainingError, GenerationError) as error:
            text = str(error) if isinstance(error, UserFacingError) else _training_words(error)
            await self._end(record, message, TrainingState.FAILED, text)
        except Exception:
            log.exception("LoRA training %d failed", record.id)
            await self._end(record, message, TrainingState.FAILED, "The training failed; check the bot's log.")
        finally:
            await throttle.close()
            self._cancel.pop(record.id, None)

    async def _bootstrap(self, record, persona: Persona, folder: Path, throttle: Throttle, cancel) -> str:
        """Draw the persona in varied scenes with its reference; keep those the scorer accepts. A note for the
        progress message (what was kept, or that nothing could judge likeness)."""
        references = [Path(p) for p in await self.store.reference_paths(persona.guild_id, persona.id)]
        scored = True
        kept = 0
        for index, scene in enumerate(BOOTSTRAP_SCENES[:BOOTSTRAP_PICTURES]):
            if cancel.is_set():
                raise _Cancelled()
            throttle.show(f"Training **{persona.name}**'s look: drawing picture {index + 1}/{BOOTSTRAP_PICTURES}…")
            image = await self._draw(persona, scene, seed=(persona.seed + 7919 * (index + 1)) % 2**32)
            if image is None:
                continue
            score = await self._score(references, [image]) if scored else None
            scored = score is not None
            if score is not None and (
                score[0].same_person is False or score[0].score < self.settings.identity_min_score
            ):
                continue
            caption = describe_scene(scene)
            full = f"{record.trigger_word} {record.class_word}, {caption}"
            if not safety.check_picture(persona, None, request=full, prompt=full).allowed:
                continue
            kept += 1
            await asyncio.to_thread(_save_picture, folder / "pictures", f"drawn-{index}", image, caption)
        total = len(list((folder / "pictures").glob("*.png")))
        if total < MIN_PICTURES:
            raise UserFacingError(
                f"Only {kept} of {BOOTSTRAP_PICTURES} pictures {persona.name} drew looked like the reference; "
                f"attach at least {MIN_PICTURES - 1} more pictures to `/persona train` instead."
            )
        (folder / "pictures.ready").touch()
        if not scored:
            return " (no identity scorer here, so all drawn pictures were kept)"
        return f" ({kept} of {BOOTSTRAP_PICTURES} drawn pictures kept)"

    async def _draw(self, persona: Persona, scene: SceneState, *, seed: int) -> Image.Image | None:
        """One selfie of `persona` in `scene` through the selfie path's checks; None when a check withholds it."""
        try:
            request = scene_request(
                persona, scene, purpose="training picture", seed=seed, settings=self.settings, engine=self.engine
            )
        except PictureRefused:
            return None
        result = await self.service.generate(request, owner=(persona.guild_id, "training"))
        if await self.image_check.withhold(result.image, must_stay_clothed=True):
            return None
        return result.image

    async def _finish(self, record: TrainingRecord, persona: Persona, channel, message, lora: Path) -> None:
        """The contact sheet: the same scenes and seeds without and with the new LoRA, with Apply / Discard."""
        with_lora = replace(persona, lora_path=str(lora), lora_hash=None, lora_trigger=record.trigger_word)
        before = [await self._draw(persona, scene, seed=persona.seed) for scene in SHEET_SCENES]
        after = [await self._draw(with_lora, scene, seed=persona.seed) for scene in SHEET_SCENES]
        grey = Image.new("RGB", (64, 64), (128, 128, 128))  # a withheld picture
        before = [image or grey for image in before]
        after = [image or grey for image in after]
        references = [Path(p) for p in await self.store.reference_paths(persona.guild_id, persona.id)]
        before_scores = (await self._score(references, before) or ()) if references else ()
        after_scores = (await self._score(references, after) or ()) if references else ()
        sheet = await asyncio.to_thread(contact_sheet, before, after, before_scores=before_scores,
                                        after_scores=after_scores)  # fmt: skip
        if not await self.records.move(record.id, TrainingState.FINISHED, source=TrainingState.RUNNING):
            return
        await self._edit(message, content=f"Training **{persona.name}**'s look: done.", view=None)
        result = await channel.send(
            f"<@{record.requester_id}> **{persona.name}** before (top) and after (bottom) the trained LoRA, same "
            "scenes and seeds. Apply it as a new look, or discard it.",
            file=discord.File(io.BytesIO(sheet), filename="training.png"),
            view=self._view("result", record.id),
            allowed_mentions=discord.AllowedMentions(users=True),
        )
        await self.records.set_message(record.id, result_message_id=result.id)

    # ----- buttons -----------------------------------------------------------------------------------------------

    async def cancel(self, run_id: int) -> bool:
        """Stop a running training between two steps; False when it is not running."""
        event = self._cancel.get(run_id)
        if event is not None:
            event.set()
            return True
        return await self.records.move(run_id, TrainingState.CANCELLED, source=TrainingState.RUNNING)

    async def apply(self, record: TrainingRecord, user_id: int) -> Persona:
        """The trained LoRA becomes the persona's new look version (file stored by content hash like uploads)."""
        persona = await self.store.get_persona_by_id(record.guild_id, record.persona_id)
        if persona is None:
            raise UserFacingError("That persona was deleted, so there is nothing to apply the training to.")
        data = await asyncio.to_thread((Path(record.folder) / "lora.safetensors").read_bytes)
        if not await self.records.move(record.id, TrainingState.APPLIED, source=TrainingState.FINISHED):
            raise UserFacingError("That training was already applied or discarded.")
        digest = hashlib.sha256(data).hexdigest()
        async with self.services.file_locks.hold(digest):  # a concurrent delete of the same file waits for us
            path, digest, _ = await asyncio.to_thread(uploads.store_lora, data, self.settings.loras_dir)
            updated = await self.store.update_persona(
                record.guild_id, persona.name, lora_path=str(path), lora_hash=digest,
                lora_trigger=record.trigger_word, changed_by=user_id, note="trained LoRA (/persona train)",
            )  # fmt: skip
        if persona.lora_path and persona.lora_path != updated.lora_path:
            await discard_files(self.services, [Path(persona.lora_path)])
        await asyncio.to_thread(shutil.rmtree, record.folder, True)
        return updated

    async def discard(self, record: TrainingRecord) -> bool:
        if not await self.records.move(record.id, TrainingState.DISCARDED, source=TrainingState.FINISHED):
            return False
        await asyncio.to_thread(shutil.rmtree, record.folder, True)
        return True

    # ----- helpers -----------------------------------------------------------------------------------------------

    async def _score(self, references: list[Path], images: list[Image.Image]) -> list[IdentityScore] | None:
        """Identity scores from the bot's scorer; None when it is not usable here."""
        judge = self.services.identity
        if judge is None or not references:
            return None
        try:
            return await judge.score(references, images)
        except IdentityError as error:
            log.info("no identity scores for the training: %s", error)
            return None

    async def _progress_message(self, record: TrainingRecord, channel, text: str):
        if record.message_id is not None:
            message = channel.get_partial_message(record.message_id)
            await self._edit(message, content=text, view=self._view("progress", record.id))
            return message
        message = await channel.send(text, view=self._view("progress", record.id))
        await self.records.set_message(record.id, message_id=message.id)
        return message

    async def _edit(self, message, **fields) -> None:
        try:
            await message.edit(**fields)
        except Exception as error:  # Discord unreachable or the bot closing: the training goes on regardless
            log.warning("could not edit the training message: %s", error)

    async def _end(self, record: TrainingRecord, message, state: TrainingState, text: str) -> None:
        try:
            await self.records.move(record.id, state, source=TrainingState.RUNNING, outcome=text)
        except Exception:  # the database closed under a shutdown: the row stays running and resumes
            log.warning("could not record the end of training %d", record.id)
            return
        await self._edit(message, content=text, view=None)
        await asyncio.to_thread(shutil.rmtree, record.folder, True)


class _Cancelled(UserFacingError):
    def __init__(self) -> None:
        super().__init__("Training cancelled.")


def _open_picture(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _save_picture(folder: Path, stem: str, image: Image.Image, caption: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / f"{stem}.png")
    if caption:
        (folder / f"{stem}.txt").write_text(caption, encoding="utf-8")


def _fresh_folder(folder: Path, pictures: list[Image.Image]) -> None:
    """A new training of this look starts from scratch: old pictures and checkpoints go."""
    shutil.rmtree(folder, ignore_errors=True)
    for index, image in enumerate(pictures):
        _save_picture(folder / "pictures", f"given-{index}", image, None)


def _data_words(error: TrainingError) -> str:
    problem = getattr(error, "problem", None)
    if problem is DataProblem.TOO_FEW or problem is DataProblem.TOO_SMALL:
        return f"Too few usable pictures for a training: it needs at least {MIN_PICTURES} big enough ones; attach more."
    if problem in (DataProblem.FILE_TOO_LARGE, DataProblem.TOO_MANY_PIXELS, DataProblem.TOO_MANY):
        return "Those pictures are over the training limits; use fewer or smaller pictures."
    return "Those pictures cannot be used for training; use PNG, JPEG or WebP photos."


def _training_words(error: Exception) -> str:
    if isinstance(error, TrainingBusy):
        return "Another training is already running on the GPU; try again when it is done."
    if isinstance(error, GenerationError):
        return f"The training stopped: {generation_words(error)}"
    return "The training stopped because of a problem with its pictures or settings; check the bot's log."
