"""Schemathesis hooks for test/contract/openapi.test.ts: drop the generated requests whose parameters break a rule
the OpenAPI document cannot state, and which the server refuses with a 400 as the operations' descriptions say:
 - `from` must be before `to` (a rule between two parameters);
 - a market's base and quote differ in any case (`binance:btc-BTC`): a pattern has no case-blind backreference, so
   the documented pattern only refuses `binance:BTC-BTC`."""
import re
from datetime import datetime, timezone

import schemathesis

ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2}))?$"
)


def instant(value):
    """Epoch ms of a time parameter as the server reads it (a day past its month's end rolls over), or None."""
    if not isinstance(value, str):
        return None
    if re.fullmatch(r"[0-9]{1,15}", value):
        return int(value)
    m = ISO.fullmatch(value)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    base = datetime(int(y), int(mo), 1, tzinfo=timezone.utc).timestamp() * 1000
    ms = base + ((int(d) - 1) * 24 * 3600 + int(h or 0) * 3600 + int(mi or 0) * 60 + int(s or 0)) * 1000
    ms += int((frac or "0").ljust(3, "0"))
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        ms -= sign * (int(zone[1:3]) * 60 + int(zone[4:6])) * 60_000
    return ms


def same_asset_market(value):
    if not isinstance(value, str):
        return False
    for ref in value.split(","):
        m = re.fullmatch(r"[A-Za-z]+:([A-Za-z0-9]+)-([A-Za-z0-9]+)", ref)
        if m is not None and m.group(1).upper() == m.group(2).upper():
            return True
    return False


def breaks_a_rule(query, path_parameters):
    query = query or {}
    start, end = instant(query.get("from")), instant(query.get("to"))
    if start is not None and end is not None and start >= end:
        return True
    values = [query.get("symbols"), *(path_parameters or {}).values()]
    return any(same_asset_market(v) for v in values)


@schemathesis.hook
def filter_case(ctx, case):
    """Every phase's cases (the coverage phase applies no other filter hook)."""
    return not breaks_a_rule(case.query, case.path_parameters)
