"""What the README states of the configuration holds: the defaults it gives are the settings'
defaults (each figure quoted next to its `BOUCLE_*` variable, and those said in a sentence,
read from the README itself), and the image runs as a user that is not root."""

import os
import re

import pytest

from app.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
# "`BOUCLE_IDEMPOTENCY_TTL_HOURS` (24)"
QUOTED = re.compile(r"`BOUCLE_([A-Z_]+)` \((\d+(?:\.\d+)?)\)")
# The sentence of the README that states a default, and the setting and value it states.
SAID = [
    ("how far outside the region a location may lie; 50 by", "service_area_buffer_km", 50),
    (
        "at most 20 subscriptions (`BOUCLE_WEBHOOK_MAX_SUBSCRIPTIONS`)",
        "webhook_max_subscriptions",
        20,
    ),
    ("10 s from connecting to the last byte", "webhook_timeout_seconds", 10),
    ("at most the first 64 KiB of the answer", "webhook_max_response_bytes", 64 * 1024),
    ("between 5 and 10 s after the", "webhook_retry_base_seconds", 10),
    ("up to 24 hours", "webhook_retry_window_hours", 24),
    ("at most 2 route plans and matching runs", "max_active_jobs_per_organization", 2),
    ("at most 500 shipments and 100 vehicles", "plan_max_shipments", 500),
    ("at most 500 shipments and 100 vehicles", "plan_max_vehicles", 100),
    ("of at most 8 travel profiles", "plan_max_profiles", 8),
]


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in [n for n in os.environ if n.startswith("BOUCLE_")]:
        monkeypatch.delenv(name)
    return Settings()


def test_every_default_quoted_beside_its_variable_is_the_setting_s(defaults: Settings) -> None:
    quoted = QUOTED.findall(README)
    assert len(quoted) >= 3, quoted
    for variable, value in quoted:
        assert getattr(defaults, variable.lower()) == float(value), variable


@pytest.mark.parametrize(("sentence", "setting", "value"), SAID, ids=[s for _, s, _ in SAID])
def test_every_default_said_in_a_sentence_is_the_setting_s(
    defaults: Settings, sentence: str, setting: str, value: float
) -> None:
    assert sentence in " ".join(README.split()), sentence
    assert getattr(defaults, setting) == value


def test_the_image_runs_uvicorn_as_a_user_that_is_not_root() -> None:
    assert "running uvicorn as a non-root user" in " ".join(README.split())
    lines = (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    users = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users
    assert any("useradd" in line and users[-1] in line.split() for line in final_stage)
    # The CMD is app.serve, which runs the API's processes in uvicorn.
    assert any("app.serve" in line for line in final_stage if line.startswith("CMD"))
    assert "uvicorn.run(" in (PROJECT_ROOT / "app" / "serve.py").read_text()
