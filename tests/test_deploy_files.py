"""deploy/: the Dockerfile, compose file and systemd unit name commands, modules and paths that exist,
and the lock files pin every dependency of pyproject.toml. No Docker engine is needed: nothing is built."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot import config as config_mod
from bot.__main__ import _parser, main
from handlers.commands import SPECS
from storage.db import Database

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- parsing helpers


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "a continuation line at the end of the Dockerfile"
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions by stage name (FROM ... AS name)."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for word, rest in dockerfile():
        if word == "FROM":
            name = rest.split()[-1] if " AS " in rest.upper() else str(len(result))
            current = result.setdefault(name, [])
        if current is not None:
            current.append((word, rest))
    return result


def docker_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, rest in instructions:
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def exec_form(rest: str) -> list[str]:
    """A JSON-array (exec form) instruction argument; the shell form is not allowed for these."""
    value = json.loads(rest)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), rest
    return value


def unit() -> dict[str, list[tuple[str, str]]]:
    """The systemd unit: section → (key, value) in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in (DEPLOY / "zhiwei-assistant.service").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        assert current is not None, line
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def service(key: str) -> list[str]:
    return [v for k, v in unit()["Service"] if k == key]


def unit_env() -> dict[str, str]:
    env = {}
    for value in service("Environment"):
        for item in shlex.split(value):
            key, _, val = item.partition("=")
            env[key] = val
    return env


def compose() -> str:
    return (DEPLOY / "compose.yaml").read_text(encoding="utf-8")


def compose_volumes() -> list[str]:
    """The bot service's volume entries (short syntax)."""
    text = compose()
    block = re.search(r"^    volumes:\n((?:      - .*\n)+)", text, re.M)
    assert block, "the bot service has a volumes: list"
    return [line.strip()[2:] for line in block.group(1).splitlines()]


def lock_pins(name: str) -> dict[str, tuple[str, int]]:
    """canonical name → (version, number of hashes) from a pip-compile --generate-hashes file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        if "--hash=sha256:" in line and current is not None:
            version, count = pins[current]
            pins[current] = (version, count + 1)
    return pins


def runtime_requirements() -> list[Requirement]:
    return [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]


def optional_test_requirements() -> list[Requirement]:
    return [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["test"]]


def extras_requirements(reqs: list[Requirement]) -> list[Requirement]:
    """What the extras asked for (python-telegram-bot[job-queue,...]) pull in, from installed metadata."""
    from importlib import metadata

    found = []
    for req in reqs:
        for extra in sorted(req.extras):
            for text in metadata.requires(req.name) or []:
                sub = Requirement(text)
                if sub.marker is not None and sub.marker.evaluate({"extra": extra}) and \
                        not sub.marker.evaluate({"extra": ""}):
                    found.append(sub)
    return found


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    args = {rest.split("=")[0]: rest.split("=", 1)[1] for word, rest in dockerfile() if word == "ARG" and "=" in rest}
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert Requirement(f"x{PYPROJECT['project']['requires-python']}").specifier.contains("3.11")
    built = stages()
    assert list(built) == ["builder", "runtime"]
    for name in built:
        assert built[name][0][1].startswith("${PYTHON_IMAGE} AS "), built[name][0]
    runtime_copies = [rest for word, rest in built["runtime"] if word == "COPY" and rest.startswith("--from=")]
    assert runtime_copies == ["--from=builder /opt/venv /opt/venv"]


def test_dockerfile_copies_files_that_exist_and_every_package() -> None:
    sources: set[str] = set()
    for word, rest in dockerfile():
        if word == "COPY" and not rest.startswith("--from="):
            parts = rest.split()
            for src in parts[:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
                sources.add(src.rstrip("/"))
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"])
    assert {p.rstrip("*") for p in packages} <= sources
    assert {"pyproject.toml", PYPROJECT["project"]["readme"], "requirements.lock", "config.example.toml"} <= sources
    # .dockerignore must not hide what the image copies.
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert not sources & ignored


def test_dockerfile_installs_from_the_lock_with_hashes_then_the_project_without_deps() -> None:
    runs = [rest for word, rest in stages()["builder"] if word == "RUN"]
    assert any("pip install --require-hashes -r requirements.lock" in r for r in runs)
    assert any("pip install --no-deps ." in r for r in runs)
    lock_step = next(i for i, r in enumerate(runs) if "requirements.lock" in r)
    project_step = next(i for i, r in enumerate(runs) if "--no-deps ." in r)
    assert lock_step < project_step  # the dependency layer is cached across code changes


def test_runtime_runs_as_a_non_root_user_with_the_data_volume() -> None:
    runtime = stages()["runtime"]
    users = [rest for word, rest in runtime if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    created = " ".join(rest for word, rest in runtime if word == "RUN")
    assert f"useradd --system --uid 10001 --gid {users[-1]}" in created
    volumes = [exec_form(rest) for word, rest in runtime if word == "VOLUME"]
    assert volumes == [["/data"]]
    env = docker_env(runtime)
    assert PurePosixPath(env["BOT_DB"]).parent == PurePosixPath("/data")
    assert f"chown {users[-1]}:{users[-1]} /data" in created
    # the volume is declared after the last build step that writes into /data
    words = [word for word, _ in runtime]
    assert words.index("VOLUME") > max(i for i, w in enumerate(words) if w == "RUN")


def test_entrypoint_is_the_run_subcommand_with_the_mounted_config() -> None:
    runtime = stages()["runtime"]
    entry = exec_form(next(rest for word, rest in runtime if word == "ENTRYPOINT"))
    assert entry[:3] == ["python", "-m", "bot"]
    args = _parser().parse_args(entry[3:])
    assert args.command == "run"
    # the config file the image ships (config.example.toml) sits where compose mounts the real one
    assert f"config.example.toml {args.config}" in [rest for word, rest in runtime if word == "COPY"]
    assert f"./config.toml:{args.config}:ro" in compose_volumes()


def test_config_example_loads_and_bot_db_overrides_its_path(tmp_path: Path) -> None:
    env = docker_env(stages()["runtime"])
    cfg = config_mod.load(ROOT / "config.example.toml", env={"BOT_DB": env["BOT_DB"]})
    assert cfg.database.path == "/data/zhiwei.db"


@pytest.fixture
def healthcheck() -> list[str]:
    rest = next(r for w, r in stages()["runtime"] if w == "HEALTHCHECK")
    options, _, command = rest.partition("CMD ")
    assert "--interval=" in options and "--start-period=" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"]
    return argv


def _run_health(argv: list[str], db: Path) -> int:
    return subprocess.run([sys.executable, *argv[1:]], env={"BOT_DB": str(db)}, capture_output=True,
                          timeout=60).returncode


@pytest.mark.e2e
def test_healthcheck_passes_on_a_migrated_database_without_network(healthcheck: list[str], tmp_path: Path) -> None:
    db_path = tmp_path / "zhiwei.db"

    async def create() -> None:
        db = await Database.open(db_path)
        await db.close()

    asyncio.run(create())
    assert _run_health(healthcheck, db_path) == 0


@pytest.mark.e2e
def test_healthcheck_fails_without_a_database_and_does_not_create_one(healthcheck: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "zhiwei.db"
    assert _run_health(healthcheck, missing) != 0
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a file the bot never opened: no migrations applied
    assert _run_health(healthcheck, empty) != 0


# ---------------------------------------------------------------- compose


def test_compose_restarts_uses_a_named_volume_at_the_dockerfile_volume_and_an_env_file() -> None:
    text = compose()
    assert re.search(r"^    restart: unless-stopped$", text, re.M)
    assert re.search(r"^    env_file: \.env$", text, re.M)
    assert (DEPLOY / "env.example").is_file()
    volume = next(v for v in compose_volumes() if not v.startswith("./"))
    name, target = volume.split(":")
    assert [target] == exec_form(next(r for w, r in stages()["runtime"] if w == "VOLUME"))
    assert re.search(rf"^volumes:\n  {re.escape(name)}:\s*$", text, re.M), "named volume declared"
    context = re.search(r"^      context: (.+)$", text, re.M)
    dockerfile_path = re.search(r"^      dockerfile: (.+)$", text, re.M)
    assert context and dockerfile_path
    assert (DEPLOY / context.group(1) / dockerfile_path.group(1)).resolve() == DEPLOY / "Dockerfile"


def test_env_example_names_only_variables_the_config_reads() -> None:
    names = re.findall(r"^#?\s*([A-Z_]+)=", (DEPLOY / "env.example").read_text(encoding="utf-8"), re.M)
    assert "TELEGRAM_TOKEN" in names
    names.remove("HTTPS_PROXY")  # httpx (python-telegram-bot's HTTP client) reads it from the environment
    values = {"TELEGRAM_TOKEN": "123:abc", "TELEGRAM_BASE_URL": "http://127.0.0.1:8081", "BOT_TZ": "Asia/Urumqi"}
    cfg = config_mod.load(None, env={n: values[n] for n in names})
    read = {"TELEGRAM_TOKEN": cfg.telegram.token, "TELEGRAM_BASE_URL": cfg.telegram.base_url,
            "BOT_TZ": cfg.bot.timezone}
    assert all(read[n] == values[n] for n in names)


# ---------------------------------------------------------------- systemd unit


def test_unit_runs_the_run_subcommand_from_the_venv_with_the_config() -> None:
    exec_start = shlex.split(service("ExecStart")[0])
    assert exec_start[0] == "/opt/zhiwei-assistant/venv/bin/python" and exec_start[1:3] == ["-m", "bot"]
    args = _parser().parse_args(exec_start[3:])
    assert args.command == "run" and args.config == "/etc/zhiwei-assistant/config.toml"
    assert service("EnvironmentFile") == ["-/etc/zhiwei-assistant/env"]


def test_unit_keeps_its_state_in_the_state_directory() -> None:
    state = "/var/lib/" + service("StateDirectory")[0]
    assert service("WorkingDirectory") == [state]
    assert state in service("ReadWritePaths")[0].split()
    env = unit_env()
    assert str(PurePosixPath(env["BOT_DB"]).parent) == state
    assert env["MPLCONFIGDIR"].startswith("/var/cache/" + service("CacheDirectory")[0] + "/")


def test_unit_is_hardened_and_restarts_on_failure() -> None:
    expected = {
        "User": "zhiwei", "Restart": "on-failure", "ProtectSystem": "strict", "ProtectHome": "yes",
        "NoNewPrivileges": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert service(key) == [value], key
    assert unit()["Install"] == [("WantedBy", "multi-user.target")]


def test_exit_code_2_that_the_unit_does_not_restart_is_what_run_returns_for_config_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert service("RestartPreventExitStatus") == ["2"]
    for var in ("TELEGRAM_TOKEN", "TELEGRAM_BASE_URL", "BOT_DB", "BOT_TZ"):
        monkeypatch.delenv(var, raising=False)
    empty = tmp_path / "config.toml"
    empty.write_text("", encoding="utf-8")
    assert main(["run", "--config", str(empty)]) == 2  # no token
    bad = tmp_path / "bad.toml"
    bad.write_text("[faq]\nauto_answer = 'sometimes'\n", encoding="utf-8")
    assert main(["run", "--config", str(bad)]) == 2


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_has_no_warnings(tmp_path: Path) -> None:
    text = (DEPLOY / "zhiwei-assistant.service").read_text(encoding="utf-8")
    # the venv does not exist here: verify checks ExecStart's binary, so point it at this interpreter
    copy = tmp_path / "zhiwei-assistant.service"
    copy.write_text(text.replace("/opt/zhiwei-assistant/venv/bin/python", sys.executable), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "" and done.stderr.strip() == "", done.stderr


# ---------------------------------------------------------------- lock files


@pytest.mark.parametrize(("lock", "groups"), [("requirements.lock", ("runtime",)),
                                              ("requirements-test.lock", ("runtime", "test"))])
def test_lock_pins_every_dependency_of_pyproject_with_hashes(lock: str, groups: tuple[str, ...]) -> None:
    pins = lock_pins(lock)
    reqs = runtime_requirements() + (optional_test_requirements() if "test" in groups else [])
    for req in reqs + extras_requirements(reqs):
        name = canonicalize_name(req.name)
        assert name in pins, f"{lock}: {req.name} is not pinned"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{lock}: {name}=={version} vs {req}"
        assert hashes >= 1, f"{lock}: {name} has no hash"
    assert all(hashes >= 1 for _, hashes in pins.values())
    text = (ROOT / lock).read_text(encoding="utf-8")
    # no index or local wheel folder of the machine that compiled it
    for option in ("\n--index-url", "\n--extra-index-url", "\n--find-links", "file://"):
        assert option not in text, option


def test_runtime_and_test_locks_agree_on_shared_pins() -> None:
    runtime, test = lock_pins("requirements.lock"), lock_pins("requirements-test.lock")
    assert set(runtime) <= set(test)
    assert {n: runtime[n][0] for n in runtime} == {n: test[n][0] for n in runtime}


def test_ci_installs_from_the_test_lock() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lock_line = script.index("pip install --quiet --require-hashes -r requirements-test.lock")
    assert lock_line < script.index("pip install --quiet --no-deps -e '.[test]'")


# ---------------------------------------------------------------- the guides tell the truth


GUIDES = [ROOT / "docs" / "使用手册.md", ROOT / "docs" / "部署运维手册.md"]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_guides_name_only_commands_that_exist(guide: Path) -> None:
    text = guide.read_text(encoding="utf-8")
    # a command: /name not inside a path or URL (/var/lib/..., t.me/...) and not followed by a path
    bot_commands = set(re.findall(r"(?<![\w/.:~-])/([a-z][a-z_]+)(?![\w/.-])", text))
    botfather = {"newbot", "setprivacy", "setjoingroups", "setdescription", "setuserpic", "revoke", "token",
                 "mybots", "setcommands"}  # BotFather's own, in the deployment guide
    paths = {"data", "etc", "opt", "var", "tmp", "usr", "home", "srv", "dev",
             "health"}  # the last: the web server's GET /health, not a command
    unknown = bot_commands - set(SPECS) - botfather - paths
    assert not unknown, f"{guide.name}: unknown commands {sorted(unknown)}"
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    subcommands = set(sub.choices)
    used = set(re.findall(r"python -m bot ([a-z][a-z-]+)", text))
    assert used and used <= subcommands, f"{guide.name}: {sorted(used - subcommands)}"


def test_user_guide_covers_every_command() -> None:
    text = GUIDES[0].read_text(encoding="utf-8")
    missing = [name for name in SPECS if not re.search(rf"/{name}(?![a-z_])", text)]
    assert not missing, missing


def test_ops_guide_config_keys_exist_in_the_example() -> None:
    text = GUIDES[1].read_text(encoding="utf-8")
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    keys = set(re.findall(r"`([a-z_]+)\.([a-z_]+)`", text))
    assert ("faq", "auto_answer") in keys and ("admins", "super_admins") in keys
    missing = {f"{s}.{k}" for s, k in keys if s in example and k not in example[s]}
    missing |= {f"{s}.{k}" for s, k in keys if s not in example and s in config_mod._SECTIONS}
    assert not missing, sorted(missing)
    for path in ("deploy/Dockerfile", "deploy/compose.yaml", "deploy/zhiwei-assistant.service",
                 "deploy/env.example", "requirements.lock"):
        assert path in text and (ROOT / path).exists(), path


def test_readme_links_both_guides_and_deploy() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[: readme.index("## What works today")]
    for link in ("docs/使用手册.md", "docs/部署运维手册.md", "deploy/"):
        assert link in head, link
