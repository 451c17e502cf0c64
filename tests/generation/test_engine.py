"""The engine draws exactly what diffusers draws, per persona, alone or batched, and caches persona assets."""

from __future__ import annotations

import pickle

import pytest

from generation.errors import InvalidAssetError
from tests.generation.conftest import (
    diffusers_reference_picture,
    make_engine,
    max_pixel_difference,
    tiny_request,
)


def draw(engine, request):
    return engine.run([engine.prepare(request)])[0]


def test_same_request_draws_the_same_picture_and_seeds_differ(engine):
    first = draw(engine, tiny_request(seed=11))
    again = draw(engine, tiny_request(seed=11))
    other = draw(engine, tiny_request(seed=12))
    assert max_pixel_difference(first, again) == 0
    assert max_pixel_difference(first, other) > 10


@pytest.mark.parametrize("with_lora, with_reference", [(False, False), (True, False), (False, True), (True, True)])
def test_picture_equals_diffusers_pipeline(engine, demo_kit, with_lora, with_reference):
    request = tiny_request(
        seed=3,
        negative_prompt="blurry",
        lora_path=demo_kit.loras[1] if with_lora else None,
        lora_scale=0.7,
        reference_path=demo_kit.references[0] if with_reference else None,
        ip_scale=0.5,
    )
    assert max_pixel_difference(draw(engine, request), diffusers_reference_picture(demo_kit, request)) == 0


def test_lora_and_reference_change_the_picture(engine, demo_kit):
    plain = draw(engine, tiny_request())
    with_lora = draw(engine, tiny_request(lora_path=demo_kit.loras[0]))
    with_reference = draw(engine, tiny_request(reference_path=demo_kit.references[0]))
    assert max_pixel_difference(plain, with_lora) > 10
    assert max_pixel_difference(plain, with_reference) > 10


def test_mixed_persona_batch_equals_solo_pictures(engine, demo_kit):
    loras = demo_kit.loras
    plain_batch = [
        tiny_request("beach", seed=1),
        tiny_request("park", seed=2, lora_path=loras[0], lora_scale=0.9),
        tiny_request("cafe", seed=3, lora_path=loras[1]),
        tiny_request("gym", seed=4, lora_path=loras[0], lora_scale=0.9),
    ]
    reference_batch = [
        tiny_request("beach", seed=5, lora_path=loras[0], reference_path=demo_kit.references[0]),
        tiny_request("rain", seed=6, reference_path=demo_kit.references[1]),
        tiny_request("night", seed=7, lora_path=loras[2], reference_path=demo_kit.references[2]),
    ]
    for batch in (plain_batch, reference_batch):
        solo = [draw(engine, request) for request in batch]
        together = engine.run([engine.prepare(request) for request in batch])
        assert [max_pixel_difference(a, b) for a, b in zip(together, solo, strict=True)] <= [1] * len(batch)


def test_adapters_are_cached_and_evicted_for_real(demo_kit):
    engine = make_engine(demo_kit, lora_capacity=2)
    baseline = engine.adapters.adapter_parameter_count()
    a, b, c = demo_kit.loras[:3]
    name_a, _ = engine.adapters.ensure(a)
    after_a = engine.adapters.adapter_parameter_count()
    engine.adapters.ensure(b)
    for _ in range(3):  # switching between cached personas never reloads
        engine.adapters.ensure(a)
        engine.adapters.ensure(b)
    assert engine.adapters.loads == 2
    assert engine.adapters.hits == 6
    engine.adapters.ensure(c)  # evicts the least recently used one: a
    assert engine.adapters.evictions == 1
    assert name_a not in engine.adapters.loaded
    assert len(engine.adapters.loaded) == 2
    resident = engine.adapters.adapter_parameter_count()
    assert baseline == 0 and after_a > 0
    engine.adapters.evict(engine.adapters.loaded[0])
    engine.adapters.evict(engine.adapters.loaded[0])
    assert engine.adapters.adapter_parameter_count() == 0 < resident
    # An evicted persona still draws its own picture when it comes back.
    request = tiny_request(lora_path=a)
    assert max_pixel_difference(draw(engine, request), diffusers_reference_picture(demo_kit, request)) == 0


def test_reference_is_encoded_once_and_reused_from_disk(demo_kit, tmp_path):
    first = make_engine(demo_kit, cache_dir=tmp_path)
    request = tiny_request(reference_path=demo_kit.references[1])
    picture = draw(first, request)
    draw(first, request)
    assert first.references.encodes == 1
    assert first.references.memory_hits == 1
    restarted = make_engine(demo_kit, cache_dir=tmp_path)
    assert max_pixel_difference(draw(restarted, request), picture) == 0
    assert restarted.references.encodes == 0
    assert restarted.references.disk_hits == 1


def test_unusable_lora_files_are_refused_with_a_sentence(engine, tmp_path):
    pickled = tmp_path / "sneaky.safetensors"
    pickled.write_bytes(pickle.dumps({"lora": [1, 2, 3]}))
    with pytest.raises(InvalidAssetError, match="not a valid .safetensors"):
        engine.prepare(tiny_request(lora_path=pickled))

    import torch
    from safetensors.torch import save_file

    unrelated = tmp_path / "other-model.safetensors"
    save_file(
        {"unet.not_a_layer.lora_A.weight": torch.zeros(4, 4), "unet.not_a_layer.lora_B.weight": torch.zeros(4, 4)},
        str(unrelated),
    )
    with pytest.raises(InvalidAssetError, match="does not fit"):
        engine.prepare(tiny_request(lora_path=unrelated))
    # The engine still serves afterwards.
    assert draw(engine, tiny_request()).size == (64, 64)


def test_unreadable_reference_is_refused(engine, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(InvalidAssetError, match="could not be read"):
        engine.prepare(tiny_request(reference_path=broken))


def test_text_encoder_loras_load_and_route_per_sample(engine, demo_kit):
    from peft.tuners.lora import LoraLayer

    freckles = next(path for path in demo_kit.loras if path.stem == "freckles")
    name, _ = engine.adapters.ensure(freckles)
    text_layers = [m for m in engine.pipe.text_encoder.modules() if isinstance(m, LoraLayer) and name in m.lora_A]
    assert text_layers  # the demo kit's freckles LoRA adapts the text encoder as well as the UNet
    with_lora = tiny_request("beach", seed=8, lora_path=freckles)
    without = tiny_request("beach", seed=9)
    together = engine.run([engine.prepare(with_lora), engine.prepare(without)])
    assert max_pixel_difference(together[0], diffusers_reference_picture(demo_kit, with_lora)) <= 1
    assert max_pixel_difference(together[1], diffusers_reference_picture(demo_kit, without)) <= 1
