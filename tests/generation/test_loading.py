"""Loading models the ways users point MODEL at them, and refusing what must not be loaded."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch

from generation.errors import ModelLoadError
from generation.loading import load_pipeline


def test_hub_id_loads_offline_from_the_local_cache(demo_kit, tmp_path, monkeypatch):
    # The layout huggingface_hub keeps: models--org--name/{refs/main, snapshots/<revision>/...}
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--selfiebot--tiny-demo"
    shutil.copytree(demo_kit.pipeline, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)

    loaded = load_pipeline("selfiebot/tiny-demo", torch.device("cpu"), torch.float32, tmp_path)
    assert type(loaded.pipe).__name__ == "StableDiffusionPipeline"
    assert loaded.label == "selfiebot/tiny-demo"


def test_unknown_hub_id_offline_says_what_to_do(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="download it first or point MODEL at a local folder"):
        load_pipeline("nobody/nothing", torch.device("cpu"), torch.float32, tmp_path)


@pytest.mark.parametrize("name", ["model.ckpt", "model.bin", "model.pt"])
def test_pickled_checkpoints_are_never_loaded(tmp_path, name):
    checkpoint = tmp_path / name
    checkpoint.write_bytes(pickle.dumps({"state_dict": {}}))
    with pytest.raises(ModelLoadError, match="Only .safetensors checkpoints"):
        load_pipeline(str(checkpoint), torch.device("cpu"), torch.float32, tmp_path)


def test_a_renamed_pickle_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(pickle.dumps({"state_dict": {}}))
    with pytest.raises(ModelLoadError, match="not a valid .safetensors checkpoint"):
        load_pipeline(str(checkpoint), torch.device("cpu"), torch.float32, tmp_path)


def test_a_folder_without_a_pipeline_is_explained(tmp_path):
    with pytest.raises(ModelLoadError, match="no model_index.json"):
        load_pipeline(str(tmp_path), torch.device("cpu"), torch.float32, tmp_path)


def test_demo_model_is_built_once_and_reused(tmp_path):
    first = load_pipeline("demo", torch.device("cpu"), torch.float32, tmp_path)
    kit_folders = sorted(Path(tmp_path / "models").iterdir())
    second = load_pipeline("demo", torch.device("cpu"), torch.float32, tmp_path)
    assert sorted(Path(tmp_path / "models").iterdir()) == kit_folders
    assert first.default_ip_adapter == second.default_ip_adapter
    weights_a = first.pipe.unet.state_dict()
    weights_b = second.pipe.unet.state_dict()
    assert all(torch.equal(weights_a[key], weights_b[key]) for key in weights_a)


def test_demo_kit_is_built_identically_every_time(demo_kit, tmp_path):
    from generation.assets import sha256_file
    from generation.demo_kit import write_demo_kit

    again = write_demo_kit(tmp_path / "again")

    def digests(root: Path) -> dict[str, str]:
        return {
            str(path.relative_to(root)): sha256_file(path)
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.suffix in {".safetensors", ".png", ".json", ".txt"}
        }

    expected = digests(demo_kit.root)
    assert expected and digests(again.root) == expected


def test_ip_adapter_can_be_named_by_its_weights_file(demo_kit):
    from generation.engine import Engine
    from tests.generation.conftest import tiny_request

    loaded = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    engine = Engine(loaded, ip_adapter=demo_kit.ip_adapter / "ip-adapter.safetensors")
    picture = engine.run([engine.prepare(tiny_request(reference_path=demo_kit.references[0]))])[0]
    assert picture.size == (64, 64)


def test_an_ip_adapter_without_image_encoder_is_explained(demo_kit, tmp_path):
    from generation.engine import Engine

    shutil.copy(demo_kit.ip_adapter / "ip-adapter.safetensors", tmp_path / "ip-adapter.safetensors")
    loaded = load_pipeline(str(demo_kit.pipeline), torch.device("cpu"), torch.float32, Path("unused"))
    with pytest.raises(ModelLoadError, match="no image_encoder"):
        Engine(loaded, ip_adapter=tmp_path)


def test_a_safetensors_file_that_is_no_checkpoint_is_explained(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants
    from safetensors.torch import save_file

    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    checkpoint = tmp_path / "not-a-model.safetensors"
    save_file({"some.weight": torch.zeros(2, 2)}, str(checkpoint))
    with pytest.raises(ModelLoadError, match="could not be loaded as a single-file checkpoint"):
        load_pipeline(str(checkpoint), torch.device("cpu"), torch.float32, tmp_path)
