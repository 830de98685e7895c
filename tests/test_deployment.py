"""What an operator deploys: the lock file, the image and the compose file refuse to be unsafe
or unpinned. (No Docker engine runs here: the files are read as Docker and compose read them.)"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ("DEBTBOT_HASH_KEY", "POSTGRES_PASSWORD", "DEBTBOT_PAYMENT_WEBHOOK_SECRET",
           "DEBTBOT_TELEGRAM_TOKEN")
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:[?-])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: object, env: dict[str, str]) -> object:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?message}`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        if env.get(name):
            return env[name]
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if op == ":-" else ""

    return _VARIABLE.sub(substitute, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("secret", SECRETS)
def test_compose_stops_naming_each_secret_left_unset(compose: dict, secret: str) -> None:
    env = {name: "set" for name in SECRETS if name != secret}
    with pytest.raises(MissingVariable) as missing:
        interpolate(compose["services"], env)
    assert str(missing.value).startswith(secret)
    assert secret in str(missing.value).split(":", 1)[1]  # the message says what to set


def test_compose_has_no_default_for_a_secret() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in SECRETS:
        assert not re.search(r"\$\{" + secret + r":-", text), secret
    assert "development-only-hash-key" not in text


def test_compose_migrates_once_then_starts_the_bot_when_healthy(compose: dict) -> None:
    services = interpolate(compose["services"], {name: "set" for name in SECRETS})
    db, migrate, bot = services["db"], services["migrate"], services["bot"]
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert migrate["command"] == ["debtbot", "db", "upgrade"] and migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])
    for service in (migrate, bot):
        assert service["env_file"] == ".env"  # every DEBTBOT_* setting reaches the container
        assert service["environment"]["DEBTBOT_HASH_KEY"] == "set"
    assert bot["ports"] == ["127.0.0.1:8080:8080"]  # not on every interface of the host


def test_the_image_runs_ci_python_as_a_user_from_the_lock_file() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM python:(\d+)\.(\d+)", dockerfile, re.MULTILINE)
    assert base is not None
    assert (int(base[1]), int(base[2])) == sys.version_info[:2]  # the version CI tests on
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "pip install --require-hashes -r requirements/main.txt" in dockerfile
    assert re.search(r"pip install --no-deps --no-build-isolation \.", dockerfile)
    assert "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile


def _pins(path: Path) -> dict[str, str]:
    text = path.read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", text, re.MULTILINE))
    requirement_lines = [line for line in text.splitlines() if line and line[0].isalnum()]
    assert len(requirement_lines) == len(pins), "every requirement is pinned with =="
    hashes = text.count("--hash=sha256:")
    assert hashes >= len(pins), "every pinned requirement carries its hashes"
    return pins


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_lock_pins_every_dependency_with_hashes_and_one_version_each() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = _pins(ROOT / "requirements" / "main.txt")
    test = _pins(ROOT / "requirements" / "test.txt")
    for requirement in project["dependencies"]:
        assert _name(requirement) in main, requirement
    for requirement in project["optional-dependencies"]["test"]:
        assert _name(requirement) in test, requirement
    assert {name: test[name] for name in main if name in test} == {
        name: version for name, version in main.items() if name in test
    }
    assert "setuptools" in main  # the build backend too: installs use --no-build-isolation


def test_ci_and_the_readme_install_from_the_lock() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "--require-hashes -r requirements/test.txt" in ci
    readme = (ROOT / "README.md").read_text()
    assert "pip install --require-hashes -r requirements/main.txt" in readme


def test_the_license_is_a_pep_639_expression() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "EUPL-1.2"
    backend = next(r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools"))
    assert backend == "setuptools>=77"  # the first setuptools to read PEP 639's form
