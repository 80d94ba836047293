package bench.flink;

import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.apache.flink.connector.jdbc.JdbcConnectionOptions;
import org.apache.flink.connector.jdbc.JdbcExecutionOptions;
import org.apache.flink.connector.jdbc.core.datastream.sink.JdbcSink;

/**
 * Ticks and candles into our schema (src/Sql/migrations 0001–0005) with flink-connector-jdbc's Sink V2, at-least-once:
 * it batches rows and flushes at `batchSize` rows, every `batchIntervalMs` and at every checkpoint. Both statements
 * are idempotent upserts, as ours, so a replay after a restart rewrites the same rows (no XA, which Postgres only has
 * with max_prepared_transactions > 0).
 */
final class Sinks {
  private Sinks() {}

  static final String TICKS_SQL =
      "INSERT INTO ticks (market, symbol, coin_id, source, event_time, price, volume, volume_24h, market_cap,"
          + " change_24h, ingest_time, trade_id, side) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
          + " ON CONFLICT (market, event_time, trade_id) DO NOTHING";

  static final String CANDLES_SQL =
      "INSERT INTO candles (market, symbol, \"interval\", bucket_start, open, high, low, close, volume, tick_count,"
          + " vwap, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())"
          + " ON CONFLICT (market, interval, bucket_start) DO UPDATE SET open = excluded.open, high = excluded.high,"
          + " low = excluded.low, close = excluded.close, volume = excluded.volume, tick_count = excluded.tick_count,"
          + " vwap = excluded.vwap, status = excluded.status, updated_at = excluded.updated_at";

  static OffsetDateTime time(long millis) {
    return OffsetDateTime.ofInstant(Instant.ofEpochMilli(millis), ZoneOffset.UTC);
  }

  static void setNullable(PreparedStatement ps, int i, Double v) throws SQLException {
    if (v == null) ps.setNull(i, Types.DOUBLE);
    else ps.setDouble(i, v);
  }

  static void bindTick(PreparedStatement ps, Tick t) throws SQLException {
    ps.setString(1, t.marketOf());
    ps.setString(2, t.symbol);
    ps.setString(3, t.coinId == null ? t.symbol.toLowerCase() : t.coinId);
    ps.setString(4, t.source);
    ps.setObject(5, time(t.eventTime));
    ps.setDouble(6, t.price);
    setNullable(ps, 7, t.volume);
    setNullable(ps, 8, t.volume24h);
    setNullable(ps, 9, t.marketCap);
    setNullable(ps, 10, t.change24h);
    ps.setObject(11, time(t.ingestTime));
    ps.setLong(12, t.tradeId == null ? -1 : t.tradeId);
    ps.setString(13, t.side);
  }

  static void bindCandle(PreparedStatement ps, Candle c) throws SQLException {
    ps.setString(1, c.market);
    ps.setString(2, c.symbol);
    ps.setString(3, c.interval);
    ps.setObject(4, time(c.bucketStart));
    ps.setDouble(5, c.open);
    ps.setDouble(6, c.high);
    ps.setDouble(7, c.low);
    ps.setDouble(8, c.close);
    ps.setDouble(9, c.volume);
    ps.setInt(10, c.tickCount);
    ps.setDouble(11, c.vwap);
    ps.setString(12, c.status);
  }

  static JdbcExecutionOptions execution(Settings s) {
    return JdbcExecutionOptions.builder()
        .withBatchSize(s.batchSize)
        .withBatchIntervalMs(s.batchIntervalMs)
        .withMaxRetries(3)
        .build();
  }

  /**
   * `rewrite`: pgjdbc's reWriteBatchedInserts (a batch becomes multi-row INSERTs). Only for ticks: a candle may be in
   * one batch twice (an early firing, then its final one), which one multi-row ON CONFLICT DO UPDATE refuses.
   */
  static JdbcConnectionOptions connection(Settings s, boolean rewrite) {
    String sep = s.jdbcUrl.contains("?") ? "&" : "?";
    return new JdbcConnectionOptions.JdbcConnectionOptionsBuilder()
        .withUrl(rewrite ? s.jdbcUrl + sep + "reWriteBatchedInserts=true" : s.jdbcUrl)
        .withDriverName("org.postgresql.Driver")
        .withUsername(s.user)
        .withPassword(s.password)
        .build();
  }

  static JdbcSink<Tick> ticks(Settings s) {
    return JdbcSink.<Tick>builder()
        .withQueryStatement(TICKS_SQL, Sinks::bindTick)
        .withExecutionOptions(execution(s))
        .buildAtLeastOnce(connection(s, true));
  }

  static JdbcSink<Candle> candles(Settings s) {
    return JdbcSink.<Candle>builder()
        .withQueryStatement(CANDLES_SQL, Sinks::bindCandle)
        .withExecutionOptions(execution(s))
        .buildAtLeastOnce(connection(s, false));
  }
}
