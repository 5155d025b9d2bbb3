"""Fixtures only (shared helpers are in helpers.py): every test runs in its own temporary
folder, so run outputs (logs/) never mix."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ECONDL_RUN_VERSION", raising=False)
    return tmp_path
