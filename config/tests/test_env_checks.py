"""Production refuses to start on a bad environment, and check --deploy is clean on a good one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config import env_checks

ROOT = Path(__file__).resolve().parents[2]

GOOD_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "k7#Qz!p2Lw9@rT4vXe8$uN1mB6^cY3&hJ0*sD5(fG7)aZ-q_Wn",
    "ALLOWED_HOSTS": "trade.quantk.kr",
    "SITE_URL": "https://trade.quantk.kr",
    "DATABASE_URL": "postgres://platform:s3cret-pw@db.internal:5432/platform",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:s3cret-pw@smtp.quantk.kr:587",
    "DEFAULT_FROM_EMAIL": "no-reply@quantk.kr",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))}
    clean.pop("SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_a_good_environment_has_no_problems():
    assert env_checks.production_problems(GOOD_ENV, env_checks.example_values()) == []


@pytest.mark.parametrize(
    "value", ["", "changeme", "your-secret-key", "xxx-placeholder-xxx", "short-but-real"]
)
def test_a_placeholder_secret_key_is_named(value):
    problems = env_checks.production_problems({**GOOD_ENV, "SECRET_KEY": value}, {})
    assert len(problems) == 1
    assert problems[0].startswith("SECRET_KEY ")


def test_a_secret_copied_from_the_example_file_is_a_placeholder():
    examples = {"SECRET_KEY": GOOD_ENV["SECRET_KEY"], "REDIS_URL": GOOD_ENV["REDIS_URL"]}
    problems = env_checks.production_problems(GOOD_ENV, examples)
    # An address may stay as in the example; a secret may not.
    assert problems == ["SECRET_KEY holds a placeholder value: expected " + env_checks.REQUIRED_IN_PRODUCTION["SECRET_KEY"] + "."]


def test_the_example_file_itself_is_refused_but_for_its_addresses():
    problems = env_checks.production_problems(env_checks.example_values(), env_checks.example_values())
    named = {line.split()[0] for line in problems}
    assert {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "EMAIL_URL"} <= named
    assert "REDIS_URL" not in named


def test_every_missing_variable_gets_its_own_line():
    problems = env_checks.production_problems({"DJANGO_ENV": "production"}, {})
    assert [line.split()[0] for line in problems] == list(env_checks.REQUIRED_IN_PRODUCTION)


def test_development_is_never_refused():
    env_checks.enforce({"DJANGO_ENV": "development"})  # returns: nothing required


def test_manage_py_exits_non_zero_naming_a_placeholder_secret_key():
    result = run_manage("check", env={**GOOD_ENV, "SECRET_KEY": "changeme"})
    assert result.returncode != 0
    assert "SECRET_KEY holds a placeholder value" in result.stderr
    assert "DATABASE_URL" not in result.stderr  # only the bad variable is named


def test_the_celery_worker_refuses_to_start_too():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))}
    env = {**clean, **GOOD_ENV, "SITE_URL": "", "REDIS_URL": "your-redis"}
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "report"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "SITE_URL is" in result.stderr or "SITE_URL holds" in result.stderr
    assert "REDIS_URL holds a placeholder value" in result.stderr


def test_the_asgi_app_refuses_to_start_too():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))}
    env = {**clean, **GOOD_ENV, "FIELD_ENCRYPTION_KEYS": "placeholder"}
    result = subprocess.run(
        [sys.executable, "-c", "import config.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS holds a placeholder value" in result.stderr


def test_check_deploy_is_clean_with_a_good_production_environment():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=GOOD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_example_files_site_url_is_refused_with_a_clear_message():
    site_url = env_checks.example_values()["SITE_URL"]
    assert site_url == "https://your-domain.example"  # what `cp .env.example .env` leaves

    problems = env_checks.production_problems({**GOOD_ENV, "SITE_URL": site_url}, env_checks.example_values())

    assert problems == [
        "SITE_URL holds a placeholder value (your-domain.example is an example address): expected "
        + env_checks.REQUIRED_IN_PRODUCTION["SITE_URL"] + "."
    ]


@pytest.mark.parametrize(("name", "value", "host"), [
    ("SITE_URL", "https://example.com", "example.com"),
    ("SITE_URL", "https://trade.example", "trade.example"),
    ("ALLOWED_HOSTS", "localhost,your-domain.example", "your-domain.example"),
    ("DEFAULT_FROM_EMAIL", "no-reply@example.org", "example.org"),
    ("EMAIL_URL", "smtp+tls://mailer:s3cret-pw@smtp.your-domain.example:587", "smtp.your-domain.example"),
])
def test_an_example_address_in_any_address_variable_is_a_placeholder(name, value, host):
    problems = env_checks.production_problems({**GOOD_ENV, name: value}, {})
    assert problems == [f"{name} holds a placeholder value ({host} is an example address): expected "
                        + env_checks.REQUIRED_IN_PRODUCTION[name] + "."]


def test_a_real_domain_that_merely_contains_example_passes():
    env = {**GOOD_ENV, "SITE_URL": "https://trade.example.kr", "ALLOWED_HOSTS": "trade.example.kr"}
    assert env_checks.production_problems(env, {}) == []
