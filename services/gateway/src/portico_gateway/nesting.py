"""Whether a JSON document nests too deeply, decided without parsing it.

`json.loads` descends one C stack frame per array or object, and a body nested a few
thousand levels deep ends in a RecursionError. The depth is therefore checked before
anything parses the body: string contents are blanked out (a bracket inside a string
does not nest), everything but brackets is dropped, and the depth is the highest
running balance of openers over closers. Every step runs in C; a body at the size
limit made of nothing but brackets is measured in less time than `json.loads` takes
to parse it.

For well-formed JSON the depth is exact; for malformed JSON it is an upper bound (the
parser refuses such a body anyway).
"""

from __future__ import annotations

import re
from itertools import accumulate

#: The deepest nesting a request body may have. Portico's request messages nest fewer
#: than ten levels; 64 leaves room for free-form JSON fields while staying far below
#: the depth at which the JSON or protobuf parsers recurse dangerously.
DEFAULT_MAX_JSON_DEPTH = 64

# A complete JSON string, escapes included. Unrolled (`[^"\\]*(?:\\.[^"\\]*)*`) so
# every character is consumed by exactly one branch and matching stays linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_DROP = bytes(b for b in range(256) if b not in b"[]{}")
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")
_STEP = {ord("("): 1, ord(")"): -1}


def json_depth(body: bytes) -> int:
    """How deeply `body` nests arrays and objects: 0 for a scalar, 1 for `[1]`."""
    parens = _STRING.sub(b'""', body).translate(_AS_PARENS, _DROP)
    return max(accumulate(map(_STEP.__getitem__, parens), initial=0))


def exceeds(body: bytes, limit: int) -> bool:
    """Whether `body` nests arrays and objects more than `limit` levels deep."""
    # Fewer openers than the limit cannot nest past it: the common case costs two counts.
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    return json_depth(body) > limit
