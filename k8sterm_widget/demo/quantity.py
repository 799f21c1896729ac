"""Resource quantities (``500m``, ``1.5``, ``128Mi``, ``1e3``) as ``resource.Quantity`` parses and prints
them.

The apiserver parses a quantity while decoding (a malformed one refuses the whole body with
``ErrFormatWrong`` or ``ErrSuffix``), keeps it exactly (rounded up to nano units), and writes it back in
canonical form (``Quantity.String``: ``1024Mi`` is stored as ``1Gi``, ``0.5`` as ``500m``, ``1000m`` as
``1``), which is also how validation messages show it (``must be less than or equal to cpu limit of 1``).
Values are exact fractions here, as Go's ``inf.Dec`` keeps them.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
BAD_SUFFIX = "unable to parse quantity's suffix"
_NUMBER = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {e: s for s, e in _DECIMAL.items()}
BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT = "BinarySI", "DecimalSI", "DecimalExponent"


class QuantityError(ValueError):
    pass


def parse(value: Any) -> tuple[Fraction, str]:
    """``ParseQuantity``: the exact value and the format its suffix asks for."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise QuantityError(FORMAT_WRONG)
    text = str(value).strip() if isinstance(value, str) else repr(value)
    if text == "0":
        return Fraction(0), DECIMAL_SI
    match = re.fullmatch(f"({_NUMBER})([eEinumkKMGTP]*)([-+]?[0-9]*)", text)
    if match is None:
        raise QuantityError(FORMAT_WRONG)
    number, suffix, exponent = Fraction(Decimal(match.group(1))), match.group(4), match.group(5)
    if exponent:
        if suffix not in ("e", "E") or not exponent.lstrip("+-"):
            raise QuantityError(BAD_SUFFIX)
        amount, fmt = number * Fraction(10) ** int(exponent), DECIMAL_EXPONENT
    elif suffix in _BINARY:
        amount, fmt = number * 1024 ** _BINARY[suffix], BINARY_SI
    elif suffix in _DECIMAL:
        amount, fmt = number * Fraction(10) ** _DECIMAL[suffix], DECIMAL_SI
    else:
        raise QuantityError(BAD_SUFFIX)
    if amount:  # non-zero values are rounded up (away from zero) to a whole nano unit
        nanos = math.ceil(abs(amount) * 10**9)
        amount = Fraction(nanos, 10**9) * (1 if amount > 0 else -1)
    if fmt == BINARY_SI and 0 < abs(amount) < 1:
        fmt = DECIMAL_SI
    return amount, fmt


def error(value: Any) -> str:
    """Why ``value`` is not a quantity, or ""."""
    try:
        parse(value)
    except QuantityError as exc:
        return str(exc)
    return ""


def canonical(value: Any) -> str:
    """``Quantity.String()`` of a parsed value (``CanonicalizeBytes``)."""
    amount, fmt = parse(value)
    if amount == 0:
        return "0"
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    if fmt == BINARY_SI and (amount < 1024 or amount.denominator != 1):
        fmt = DECIMAL_SI
    if fmt == BINARY_SI:
        mantissa, power = int(amount), 0
        while mantissa % 1024 == 0 and power < 6:
            mantissa, power = mantissa // 1024, power + 1
        suffix = next((s for s, p in _BINARY.items() if p == power), "")
        return f"{sign}{mantissa}{suffix}"
    # mantissa * 10^exponent, trailing zeros moved into the exponent, the exponent a multiple of 3
    exponent = 0
    while amount.denominator != 1:
        amount, exponent = amount * 10, exponent - 1
    mantissa = int(amount)
    while mantissa % 10 == 0:
        mantissa, exponent = mantissa // 10, exponent + 1
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt == DECIMAL_SI and exponent in _DECIMAL_SUFFIX:
        return f"{sign}{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")


def as_float(value: Any) -> float:
    """A quantity as a number (0 when it is none), for arithmetic such as the scheduler's."""
    try:
        return float(parse(value)[0])
    except QuantityError:
        return 0.0
