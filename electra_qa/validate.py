"""Checks of single values that several modules share: integers, finite numbers, booleans, texts. Each returns the
value normalised or raises an ``InputError`` naming it; this module imports nothing of the library but its errors."""

from __future__ import annotations

import math
import numbers

import numpy as np

from electra_qa.errors import InputError


def positive_int(name: str, value) -> int:
    """``value`` as an int when it is a positive integer of any integral type (numpy's too), else an InputError."""
    return _integer(name, value, 1)


def non_negative_int(name: str, value) -> int:
    """``value`` as an int when it is an integer >= 0 of any integral type, else an InputError."""
    return _integer(name, value, 0)


def finite_number(name: str, value) -> float:
    """``value`` as a float when it is a finite real number (not a bool, NaN or infinity), else an InputError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def strict_bool(name: str, value) -> bool:
    """``value`` if it is a boolean (numpy's too); a string such as "false" is an InputError, never True."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise InputError(f"{name} must be True or False, got {value!r}")


def _integer(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise InputError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_text(name: str, value) -> str:
    """``value`` if it is a usable question or context: a non-empty string of valid Unicode; else an InputError."""
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InputError(f"{name} is empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(
            f"{name} is not valid Unicode text: a lone surrogate {value[e.start]!r} at character "
            f"{e.start} (text decoded with errors='surrogateescape', or broken UTF-16)"
        ) from None
    return value
