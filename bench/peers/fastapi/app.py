"""The rest scenario's FastAPI peer: /api/latest and /api/candles/{symbol} as a FastAPI user would write them.

Async all the way: redis.asyncio (hiredis parser) and a psycopg 3 async pool. The answers are the app's JSON, the
same items and values (bench/lib/rest-answers.mjs compares them before anything is timed). Responses are encoded
with orjson into a plain Response: the usual FastAPI advice for a fast JSON endpoint, no Pydantic model per item.

    REDIS_URL=… DATABASE_URL=… uvicorn app:app --workers 1|2 --no-access-log
"""

import os
import time
from contextlib import asynccontextmanager
from typing import Literal

import orjson
import redis.asyncio as redis
from fastapi import FastAPI, Query, Response
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

# The app's SQL (src/Store/Reads.ts): the newest `limit` buckets, oldest first, epoch ms computed by Postgres.
CANDLES_SQL = """
SELECT market, symbol, interval, round(extract(epoch FROM bucket_start) * 1000)::float8 AS "bucketStart",
  open, high, low, close, volume, tick_count AS "tickCount", vwap, status, gaps,
  first_trade_id::float8 AS "firstTradeId", last_trade_id::float8 AS "lastTradeId", sma20, sma50, ema12, ema26, rsi14,
  bb_upper AS "bbUpper", bb_middle AS "bbMiddle", bb_lower AS "bbLower"
FROM (
  SELECT * FROM candles WHERE market = %s AND interval = %s ORDER BY bucket_start DESC LIMIT %s
) recent ORDER BY bucket_start ASC
"""

CANDLE_FIELDS = (
    "market", "symbol", "interval", "bucketStart", "open", "high", "low", "close", "volume", "tickCount", "vwap",
    "status", "gaps", "firstTradeId", "lastTradeId",
)  # fmt: skip


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Per worker process: each uvicorn worker has its own event loop, Redis client and pool of 10 (the app's size).
    app.state.redis = redis.from_url(os.environ["REDIS_URL"])
    app.state.pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=10, max_size=10, open=False)
    await app.state.pool.open(wait=True)
    yield
    await app.state.pool.close()
    await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)


def json_response(value) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


@app.get("/health")
async def health():
    return {"status": "ok"}


@app.get("/api/latest")
async def latest():
    r = app.state.redis
    markets = await r.smembers("latest:markets")
    values = await r.mget([b"latest:" + m for m in markets]) if markets else []
    prices = [orjson.loads(v) for v in values if v is not None]
    prices.sort(key=lambda t: t["market"])
    return json_response({"prices": prices, "asOf": int(time.time() * 1000)})


@app.get("/api/candles/{symbol}")
async def candles(
    symbol: str,
    interval: Literal["1m", "5m", "15m", "1h", "1d"] = "1m",
    limit: int = Query(500, ge=1, le=5000),
):
    # The bench seeds simulator markets only: a bare symbol is its simulator market, as the app's default-market rule.
    market = symbol if ":" in symbol else f"simulator:{symbol.upper()}-USD"
    async with app.state.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(CANDLES_SQL, (market, interval, limit))
        rows = await cur.fetchall()
    out = [{k: r[k] for k in CANDLE_FIELDS} for r in rows]
    base = market[market.index(":") + 1 : market.index("-")]
    return json_response({"symbol": base, "market": market, "interval": interval, "candles": out})
