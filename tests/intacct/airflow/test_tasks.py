"""Task settings read from the Airflow worker's environment."""

from __future__ import annotations

import pytest

from intacct import extract
from intacct.airflow import tasks


def test_writer_processes_default_and_setting(monkeypatch):
    monkeypatch.delenv(tasks.WRITER_PROCESSES_VARIABLE, raising=False)
    assert tasks.writer_processes() == extract.ExtractOptions.writers == 2
    monkeypatch.setenv(tasks.WRITER_PROCESSES_VARIABLE, "0")
    assert tasks.writer_processes() == 0


@pytest.mark.parametrize("value", ["two", "-1", "17", ""])
def test_a_bad_writer_processes_setting_is_refused_with_its_name(monkeypatch, value):
    monkeypatch.setenv(tasks.WRITER_PROCESSES_VARIABLE, value)
    with pytest.raises(tasks.WorkerSettingError, match=f"INTACCT_WRITER_PROCESSES={value!r} is not a number"):
        tasks.writer_processes()
    assert tasks.WorkerSettingError in tasks.REFUSALS  # the run is refused with that sentence
