"""IP_ADAPTER as a hub id, read from the local Hugging Face cache like MODEL (nothing is downloaded here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from bot.settings import Settings, SettingsError
from generation.engine import Engine
from generation.errors import ModelLoadError
from generation.loading import load_pipeline, resolve_ip_adapter
from tests.generation.conftest import tiny_request

REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def offline_hub(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache with the hub switched off, as on a server without internet."""
    import huggingface_hub.constants as hub_constants

    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    return hub


def cache_repo(hub: Path, repo_id: str, files: dict[str, Path]) -> Path:
    """The layout huggingface_hub keeps: models--org--name/{refs/main, snapshots/<revision>/...}."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / REVISION
    for inner, source in files.items():
        target = snapshot / inner
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def test_a_hub_id_with_a_weights_file_draws_like_the_local_folder(demo_kit, offline_hub):
    # The h94/IP-Adapter layout: models/<weights>.safetensors next to models/image_encoder/.
    snapshot = cache_repo(
        offline_hub,
        "selfiebot/tiny-ip",
        {
            "models/ip-adapter.safetensors": demo_kit.ip_adapter / "ip-adapter.safetensors",
            "models/image_encoder": demo_kit.ip_adapter / "image_encoder",
        },
    )
    hub_id = "selfiebot/tiny-ip/models/ip-adapter.safetensors"
    assert resolve_ip_adapter(hub_id) == snapshot / "models" / "ip-adapter.safetensors"
    assert resolve_ip_adapter("selfiebot/tiny-ip/models") == snapshot / "models"

    request = tiny_request(reference_path=demo_kit.references[0])
    pictures = []
    for location in (hub_id, demo_kit.ip_adapter):
        loaded = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
        engine = Engine(loaded, ip_adapter=location)
        pictures.append(engine.run([engine.prepare(request)])[0])
    assert pictures[0].tobytes() == pictures[1].tobytes()


def test_a_hub_id_missing_from_the_cache_says_what_to_do(offline_hub):
    with pytest.raises(ModelLoadError, match="download it first or point IP_ADAPTER at a local folder"):
        resolve_ip_adapter("nobody/no-ip-adapter/models/ip-adapter_sd15.safetensors")


def test_a_cached_repo_without_the_named_file_is_explained(demo_kit, offline_hub):
    cache_repo(
        offline_hub, "selfiebot/other-ip", {"ip-adapter.safetensors": demo_kit.ip_adapter / "ip-adapter.safetensors"}
    )
    with pytest.raises(ModelLoadError, match="has no models/missing.safetensors"):
        resolve_ip_adapter("selfiebot/other-ip/models/missing.safetensors")


def test_pickled_weights_by_hub_id_are_refused(offline_hub):
    with pytest.raises(ModelLoadError, match="pickled"):
        resolve_ip_adapter("h94/IP-Adapter/models/ip-adapter_sd15.bin")


def test_settings_accept_a_hub_id_and_refuse_a_missing_path(tmp_path):
    hub_id = "h94/IP-Adapter/models/ip-adapter_sd15.safetensors"
    assert Settings.from_env(env={"IP_ADAPTER": hub_id}, dotenv=None).ip_adapter == hub_id
    assert Settings.from_env(env={"IP_ADAPTER": str(tmp_path)}, dotenv=None).ip_adapter == tmp_path
    for bad in ("/no/such/folder", "./relative/missing", "not a hub id"):
        with pytest.raises(SettingsError, match="IP_ADAPTER"):
            Settings.from_env(env={"IP_ADAPTER": bad}, dotenv=None)
