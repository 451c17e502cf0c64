"""The Ray Serve backend on a real local Ray instance: two CPU replicas of the demo engine, started once per module.

What a user of the bot would notice: the same pictures as the in-process service, progress while waiting, a
cancelled request that stops drawing on its replica, a persona's look served by the replica that holds it warm,
persona files sent once by content, and a replica that dies mid-picture costing a retry instead of the picture.
The replica-kill test runs last: the killed replica is replaced in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from generation.backend import GenerationBackend, ModelFacts
from generation.errors import AssetProblem, InvalidAssetError, ModelLoadError, QueueFullError, ServiceClosedError
from generation.ray_backend.config import (
    APP_NAME,
    RayBackendConfig,
    ReplicaSettings,
    ScalingSettings,
)
from generation.ray_backend.wire import Failed, error_from, failure_of
from generation.service import GenerationService
from tests.generation.conftest import max_pixel_difference, tiny_request

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")
from generation.ray_backend.client import RayGenerationBackend, ReplicaLostError  # noqa: E402  # needs ray

on_cluster = pytest.mark.asyncio(loop_scope="module")  # one event loop for the module-wide backend

SERVE_CONFIG = Path(__file__).resolve().parents[2] / "generation" / "ray_backend" / "serve_config.yaml"


@pytest.fixture(scope="module")
def ray_instance():
    """One small local Ray instance for the module: 2 CPUs, an 80 MiB object store (Ray's minimum is 75), no dashboard."""
    ray.init(num_cpus=2, object_store_memory=80 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def config(demo_kit, tmp_path_factory) -> RayBackendConfig:
    return RayBackendConfig(
        replica=ReplicaSettings(
            model=str(demo_kit.pipeline),
            ip_adapter=str(demo_kit.ip_adapter),
            device="cpu",
            dtype="float32",
            data_dir=str(tmp_path_factory.mktemp("replicas")),
        ),
        scaling=ScalingSettings(min_replicas=2, max_replicas=2, cpus_per_replica=0.5),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def backend(ray_instance, config):
    started = await RayGenerationBackend.start(config)
    yield started
    await started.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def local(engine):
    """The in-process backend on the same demo kit: what the Ray backend must match."""
    service = GenerationService(engine)
    yield service
    await service.close()


def persona_request(kit, look: tuple[int, int], prompt: str = "a selfie at the beach", seed: int = 11, **overrides):
    """A request for the persona look `(lora, reference)`: indexes of the demo kit's LoRAs and reference pictures."""
    lora, reference = look
    return tiny_request(
        prompt,
        seed=seed,
        lora_path=kit.loras[lora],
        reference_path=kit.references[reference],
        lora_scale=0.8,
        ip_scale=0.5,
        **overrides,
    )


async def routed_to_its_replica(backend, look_id: str) -> None:
    """Wait until Serve's router knows which replica holds `look_id` (replicas report their looks every 0.1 s)."""
    for _ in range(100):
        if look_id in (await backend.replica_stats(look_id)).looks:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no replica reported {look_id}")


# ----- without a cluster ---------------------------------------------------------------------------------------


def test_errors_cross_the_wire_as_the_same_class_with_their_context():
    sent = InvalidAssetError("x.safetensors is not a valid .safetensors file", problem=AssetProblem.NOT_SAFETENSORS)
    received = error_from(failure_of(sent, replica="r1"))
    assert type(received) is InvalidAssetError and received.problem is AssetProblem.NOT_SAFETENSORS
    assert str(received) == str(sent)
    odd = error_from(Failed("SomethingNew", "boom", replica="r2"))
    assert "r2" in str(odd) and "boom" in str(odd)


def test_the_documented_serve_config_file_is_valid_for_serve():
    import yaml
    from ray.serve.schema import ServeDeploySchema

    document = yaml.safe_load(SERVE_CONFIG.read_text())
    schema = ServeDeploySchema.model_validate(document)
    (app,) = schema.applications
    assert app.name == APP_NAME and app.import_path == "generation.ray_backend.app:app_builder"
    ReplicaSettings.from_args(app.args)  # every argument is a replica setting
    (deployment,) = app.deployments
    assert deployment.ray_actor_options.num_gpus == 1
    scaling = dict(deployment.autoscaling_config)
    assert scaling["max_replicas"] >= scaling["min_replicas"] >= 1


def test_scaling_settings_become_serve_options():
    fixed = ScalingSettings(min_replicas=2, max_replicas=2).deployment_options(cluster_gpus=4)
    assert fixed["num_replicas"] == 2 and fixed["ray_actor_options"]["num_gpus"] == 1.0
    assert ScalingSettings().deployment_options(cluster_gpus=0)["ray_actor_options"]["num_gpus"] == 0.0
    scaling = ScalingSettings(min_replicas=1, max_replicas=6, target_queue=3).deployment_options(cluster_gpus=8)
    assert scaling["autoscaling_config"]["target_ongoing_requests"] == 3
    assert "num_replicas" not in scaling
    with pytest.raises(ValueError):
        ScalingSettings(min_replicas=3, max_replicas=2)


# ----- on the cluster ------------------------------------------------------------------------------------------


@on_cluster
async def test_both_backends_offer_the_interface_the_bot_uses(backend, local, engine):
    assert isinstance(local, GenerationBackend) and isinstance(backend, GenerationBackend)
    assert isinstance(engine, ModelFacts) and isinstance(backend.engine, ModelFacts)


@on_cluster
async def test_pictures_equal_the_local_backend(backend, local, demo_kit):
    requests = [
        tiny_request("a portrait in the rain", seed=3),
        tiny_request("a selfie with a lora", seed=4, lora_path=demo_kit.loras[0], lora_scale=0.7),
        persona_request(demo_kit, (1, 1)),
    ]
    for request in requests:
        remote, here = await backend.generate(request), await local.generate(request)
        assert max_pixel_difference(remote.image, here.image) == 0, request.prompt
        assert remote.report() | {"queue_wait_s": 0, "generation_s": 0} == here.report() | {
            "queue_wait_s": 0,
            "generation_s": 0,
        }
    assert backend.engine.native_size == 64 and backend.engine.supports_references
    assert backend.engine.count_tokens("a selfie at the beach") == local.engine.count_tokens("a selfie at the beach")


@on_cluster
async def test_progress_arrives_while_the_picture_is_drawn(backend):
    events = []
    result = await backend.generate(tiny_request("progress please", steps=4), on_progress=events.append)
    stages = [event.stage for event in events]
    assert stages[0] == "queued" and events[0].position == 1
    assert "started" in stages and stages.index("started") < stages.index("step")
    steps = [event.step for event in events if event.stage == "step"]
    assert steps[0] == 1 and steps == sorted(steps) and steps[-1] == events[-1].total  # previews repeat a step
    assert result.image.size == (64, 64)


@on_cluster
async def test_a_look_stays_on_the_replica_that_holds_it(backend, demo_kit):
    looks = [(index, index) for index in range(4)]
    first = [await backend.generate(persona_request(demo_kit, look, seed=look[0])) for look in looks]
    replica_of = {look: result.extra["replica"] for look, result in zip(looks, first, strict=True)}
    assert len(set(replica_of.values())) == 2  # new looks go to the replica holding fewest, so both take some

    events = defaultdict(list)
    burst = [(look, seed) for seed in (20, 21) for look in looks]
    results = await asyncio.gather(
        *(
            backend.generate(persona_request(demo_kit, look, seed=seed), on_progress=events[look, seed].append)
            for look, seed in burst
        )
    )
    for (look, _), result in zip(burst, results, strict=True):
        assert result.extra["replica"] == replica_of[look]
        assert result.extra["look_was_resident"]
    assert any(event.position > 1 for stream in events.values() for event in stream if event.stage == "queued")


@on_cluster
async def test_persona_files_travel_once_by_content(backend, demo_kit, tmp_path, config):
    original = demo_kit.loras[2]
    copies = [tmp_path / "first" / "mine.safetensors", tmp_path / "second" / "other-name.safetensors"]
    for copy in copies:
        copy.parent.mkdir()
        shutil.copyfile(original, copy)
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    puts = backend.assets.puts
    results = [await backend.generate(tiny_request("by content", seed=5, lora_path=copy)) for copy in copies]
    assert backend.assets.puts - puts <= 1  # one put for the content, whatever its paths (none if shipped before)
    assert digest in backend.assets.resident
    assert {result.lora_hash for result in results} == {digest}
    assert results[0].extra["look_id"] == results[1].extra["look_id"]
    assert results[0].extra["replica"] == results[1].extra["replica"]
    stored = Path(config.replica.data_dir) / "ray-assets" / f"{digest}.safetensors"
    assert stored.read_bytes() == original.read_bytes()  # the replica's copy, named by hash

    pickle_in_disguise = tmp_path / "evil.safetensors"
    pickle_in_disguise.write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    with pytest.raises(InvalidAssetError) as raised:
        await backend.generate(tiny_request("bad file", lora_path=pickle_in_disguise))
    assert raised.value.problem is AssetProblem.NOT_SAFETENSORS


@on_cluster
async def test_a_busy_bot_is_refused_and_a_closing_one_fails_what_it_holds(backend, config):
    handle = serve.get_app_handle(config.app_name)
    small = RayGenerationBackend(replace(config, max_queue=1), handle, backend.engine, owns_ray=False)
    running = asyncio.create_task(small.generate(tiny_request("occupying", steps=30)))
    await asyncio.sleep(0)  # it takes its place at once
    assert small.queued == 1
    with pytest.raises(QueueFullError):
        await small.generate(tiny_request("one too many"))
    assert (await running).image.size == (64, 64)

    stepping = asyncio.Event()
    cut_short = asyncio.create_task(
        small.generate(tiny_request("cut short", steps=900), on_progress=lambda e: e.stage == "step" and stepping.set())
    )
    await asyncio.wait_for(stepping.wait(), 60)
    await small.close()
    with pytest.raises(ServiceClosedError):
        await cut_short
    with pytest.raises(ServiceClosedError):
        await small.generate(tiny_request("after close"))


@on_cluster
async def test_a_model_the_replicas_cannot_load_is_one_sentence_at_start(backend, config):
    broken = replace(config, app_name="selfiebot-broken", replica=replace(config.replica, model="/no/such/model"))
    with pytest.raises(ModelLoadError) as raised:
        await RayGenerationBackend.start(broken)
    assert "/no/such/model does not exist" in str(raised.value)


@on_cluster
async def test_cancelling_stops_the_drawing_on_the_replica(backend, demo_kit):
    look = (0, 2)
    warm = await backend.generate(persona_request(demo_kit, look, seed=1))
    await routed_to_its_replica(backend, warm.extra["look_id"])
    stepping = asyncio.Event()

    def on_progress(event):
        if event.stage == "step":
            stepping.set()

    long_one = asyncio.create_task(
        backend.generate(persona_request(demo_kit, look, seed=2, steps=900), on_progress=on_progress)
    )
    await asyncio.wait_for(stepping.wait(), 60)
    long_one.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long_one
    after = await backend.generate(persona_request(demo_kit, look, seed=3))  # same look: same replica
    assert after.extra["replica"] == warm.extra["replica"]
    stats = await backend.replica_stats(warm.extra["look_id"])
    assert stats.replica == warm.extra["replica"]
    stopped = [run for run in stats.runs if run.total >= 900]
    assert stopped and stopped[-1].steps < stopped[-1].total  # the pipeline call ended early
    assert stats.cancelled >= 1


@on_cluster
async def test_a_replica_killed_mid_picture_costs_a_retry_not_the_picture(backend, local, demo_kit):
    look = (1, 3)
    warm = await backend.generate(persona_request(demo_kit, look, seed=1))
    doomed = warm.extra["replica"]
    await routed_to_its_replica(backend, warm.extra["look_id"])
    request = persona_request(demo_kit, look, seed=9, steps=60)
    expected = (await local.generate(request)).image  # before the kill: Serve's replacement replica then takes the CPU
    killed = asyncio.Event()

    def kill_when_started(event):
        if event.stage == "started" and not killed.is_set():
            killed.set()
            ray.kill(ray.get_actor(doomed, namespace="serve"), no_restart=True)

    result = await backend.generate(request, on_progress=kill_when_started)
    assert killed.is_set()
    assert result.extra["attempts"] == 2 and result.extra["replica"] != doomed
    assert max_pixel_difference(result.image, expected) == 0
    assert backend.retries >= 1


@on_cluster
async def test_a_request_whose_replicas_both_die_ends_in_one_clear_error(backend, config):
    """Runs last: every time the request starts on a replica, every replica of the application is killed."""
    rounds = []

    def kill_every_replica(event):
        if event.stage != "started":
            return
        prefix = f"SERVE_REPLICA::{config.app_name}#"
        names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(prefix)]
        rounds.append(names)
        for name in names:
            with contextlib.suppress(ValueError):  # already gone
                ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)

    with pytest.raises(ReplicaLostError) as raised:
        await backend.generate(tiny_request("doomed twice", steps=60), on_progress=kill_every_replica)
    assert len(rounds) == 2 and len(raised.value.causes) == 2 and "died 2 times" in str(raised.value)
