"""The fault soak, reduced to two seeds (``python -m bench.soak --seeds 10`` runs the full one)."""

from __future__ import annotations

import pytest

from bench.soak import run_seed


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_fault_soak(airflow_db, seed, monkeypatch):
    monkeypatch.setenv("ATTENDEE_EXAMPLE_POLL_SECONDS", "0.5")
    result = run_seed(seed)
    assert result["faults_injected"] >= 10  # the exact count depends on the Airflow version's polling
    assert result["duplicates"] == 0 and result["missing"] == 0, result
    assert result["sync_runs"] == "success/success" and result["pipeline"] == "success", result
    assert result["report_equals_truth"], result
