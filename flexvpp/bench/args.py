"""Argument types and checks shared by the `flexvpp bench` commands. Standard library only at
import (the checks import what they need)."""

from __future__ import annotations

import argparse
import os
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flexvpp.bench.homes import DayInputs


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def share(text: str) -> float:
    """A share of the homes: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, got {text!r}")
    return value


def check_homes_and_workers(args: argparse.Namespace) -> None:
    """--homes and --workers of `bench plan` and `bench portfolio`: at least 1 each."""
    from flexmodel.usage_error import UsageError

    if args.homes < 1:
        raise UsageError(f"--homes: {args.homes} must be at least 1")
    if args.workers < 1:
        raise UsageError(f"--workers: {args.workers} must be at least 1")


def check_day(args: argparse.Namespace) -> date:
    """--data (a directory, if given) and --date (YYYY-MM-DD) of `bench plan` and `bench portfolio`."""
    from flexmodel.usage_error import UsageError

    if args.data is not None and not args.data.is_dir():
        raise UsageError(f"--data: {args.data} is not a directory")
    try:
        return date.fromisoformat(args.date)
    except ValueError:
        raise UsageError(f"--date: {args.date!r} is not a date of the form YYYY-MM-DD") from None


def day_inputs(args: argparse.Namespace, day: date) -> DayInputs:
    """The day's prices, PV, load and EV sessions: from --data, or generated with --seed."""
    from flexmodel.usage_error import UsageError
    from flexvpp.bench.data import BenchDataError, load_day, local_midnight
    from flexvpp.bench.homes import synthetic_day

    if args.data is None:
        return synthetic_day(local_midnight(day), seed=args.seed)
    try:
        return load_day(args.data, day)
    except BenchDataError as exc:
        raise UsageError(f"--data: {exc}") from None


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, for a benchmark's report."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
