# accepted: the standard library a learner reaches for imports and works under the
# harness's audit hook (which refuses frame access only to learner code).
import bisect
import collections
import csv
import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import heapq
import io
import itertools
import json
import logging
import math
import random
import re
import statistics
import string
import textwrap
import typing


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Colour(enum.Enum):
    RED = 1


def solve():
    logging.getLogger("learner").warning("logging works")
    assert json.loads(json.dumps({"a": [1, 2]})) == {"a": [1, 2]}
    assert re.fullmatch(r"\d+", "123")
    assert Point(1, 2) == Point(1, 2) and Colour.RED.value == 1
    assert statistics.mean([1, 2, 3]) == 2
    assert list(csv.reader(io.StringIO("a,b\n"))) == [["a", "b"]]
    assert fractions.Fraction(1, 3) + fractions.Fraction(1, 6) == fractions.Fraction(1, 2)
    assert decimal.Decimal("0.1") + decimal.Decimal("0.2") == decimal.Decimal("0.3")
    assert heapq.nsmallest(1, [3, 1, 2]) == [1] and bisect.bisect([1, 2, 3], 2) == 2
    assert collections.Counter("aab")["a"] == 2
    assert functools.reduce(lambda a, b: a + b, itertools.repeat(1, 3)) == 3
    assert datetime.date(2024, 2, 29).isoformat() == "2024-02-29"
    assert textwrap.shorten("hello world", 8) == "[...]" or True
    assert string.ascii_lowercase[0] == "a" and math.isqrt(16) == 4
    random.seed(1)
    typing.get_type_hints(Point)
    return "sandbox held"
