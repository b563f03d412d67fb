"""`flexvpp demo`'s exit status: fail when no planning run planned or the VTN logged an error (issue 10)."""

from __future__ import annotations

import logging
from pathlib import Path

from flexvpp.demo_check import failure, logged_errors

# The VTN's log in issue 10's demo (flexvpp.cli's format): every planning run raised before it
# was recorded, while a warning and the start-up lines went by.
SCIPY_MISSING_LOG = """\
2026-12-02 07:23:31,904 WARNING openleadr: The VTN offered reports, but OpenLEADR does not support reports.
2026-12-02 07:23:52,082 ERROR vtn.portfolio.loop: planning run failed; trying again
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/vtn/portfolio/loop.py", line 112, in _worker
    record = await self.run_now("; ".join(dict.fromkeys(reasons)))
  File "/venv/lib/python3.11/site-packages/flexmodel/fast/arrays.py", line 13, in <module>
    import scipy.sparse as sp
ModuleNotFoundError: No module named 'scipy'
2026-12-02 07:23:52,391 INFO aggregator.services: planning run 1f (day-ahead): error in 0.30 s
2026-12-02 07:23:54,102 ERROR [w0] vtn.portfolio.loop: planning run failed; trying again
Traceback (most recent call last):
ModuleNotFoundError: No module named 'scipy'
"""
# A pydantic error's details follow its first line, unindented and indented (a glpk run, PATH empty).
PYDANTIC_LOG = """2026-12-02 07:32:12,176 ERROR vtn.portfolio.loop: planning run failed; trying again
Traceback (most recent call last):
  File "/work/main/aggregator/services.py", line 124, in run_planning
    plan = Plan.model_validate(plan_json)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
pydantic_core._pydantic_core.ValidationError: 1 validation error for Plan
sites
  Field required [type=missing, input_value={'status': 'error'}, input_type=dict]
    For further information visit https://errors.pydantic.dev/2.13/v/missing
"""
PLANNED = {"status": "optimal", "trigger": "day-ahead"}
NOTHING_YET = {"status": "error", "trigger": "day-ahead", "message": "no home has reported"}


def test_errors_are_read_one_line_each_with_their_exception() -> None:
    assert logged_errors(SCIPY_MISSING_LOG) == [
        "vtn.portfolio.loop: planning run failed; trying again "
        "(ModuleNotFoundError: No module named 'scipy')",
        "[w0] vtn.portfolio.loop: planning run failed; trying again "
        "(ModuleNotFoundError: No module named 'scipy')",
    ]


def test_the_exception_is_the_line_after_the_traceback_not_its_details() -> None:
    assert logged_errors(PYDANTIC_LOG) == [
        "vtn.portfolio.loop: planning run failed; trying again "
        "(pydantic_core._pydantic_core.ValidationError: 1 validation error for Plan)"
    ]


def test_warnings_and_info_are_not_errors() -> None:
    quiet = "\n".join(line for line in SCIPY_MISSING_LOG.splitlines() if " ERROR " not in line)
    assert logged_errors(quiet) == []
    assert logged_errors("") == []


def test_a_record_written_by_the_logging_module_is_recognised(tmp_path: Path) -> None:
    """The format flexvpp.cli sets up for every command, the VTN's included."""
    path = tmp_path / "vtn.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test_demo_check.vtn")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("a warning")
        try:
            raise ModuleNotFoundError("No module named 'scipy'", name="scipy")
        except ModuleNotFoundError:
            logger.exception("planning run failed; trying again")
        logger.critical("gone")
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert logged_errors(path.read_text()) == [
        "test_demo_check.vtn: planning run failed; trying again "
        "(ModuleNotFoundError: No module named 'scipy')",
        "test_demo_check.vtn: gone",
    ]


def test_issue_10s_demo_fails_and_says_why() -> None:
    why = failure([NOTHING_YET], logged_errors(SCIPY_MISSING_LOG))
    assert why is not None
    assert why.startswith(
        "no planning run succeeded (1 recorded, none planned; the last said: no home has reported); "
        "the VTN logged 2 error(s), the first: vtn.portfolio.loop: planning run failed"
    )
    assert "No module named 'scipy'" in why and "\n" not in why


def test_no_run_at_all_fails() -> None:
    assert failure([], []) == "no planning run succeeded (0 recorded, none planned)"


def test_a_run_that_planned_passes_beside_runs_with_nothing_to_plan_yet() -> None:
    assert failure([NOTHING_YET, NOTHING_YET, PLANNED], []) is None
    assert failure([{**PLANNED, "status": "best_effort"}], []) is None


def test_an_error_the_summary_would_hide_fails_a_demo_that_planned() -> None:
    why = failure([PLANNED], ["vtn.portfolio.dispatch: dispatch to ven-1 failed"])
    assert why == "the VTN logged 1 error(s), the first: vtn.portfolio.dispatch: dispatch to ven-1 failed"
