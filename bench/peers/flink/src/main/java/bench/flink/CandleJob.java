package bench.flink;

import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.CheckpointingMode;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSink;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;

/**
 * The Flink peer of our processor (bench/peers/README.md): Kafka → key by market → event-time tumbling windows
 * 1m/5m/15m/1h/1d (OHLC, volume, count, VWAP) → Postgres, ticks and candles upserted through JDBC, checkpoints on,
 * in a local mini-cluster (one JVM).
 *
 * Watermark: bounded out-of-orderness of the allowed lateness (2 min). Flink's watermark is then newest event time −
 * lateness − 1 ms, and a window fires (closes) once it reaches end − 1 ms: exactly when ours closes a bucket (newest −
 * lateness ≥ end), with allowed lateness 0 on the windows. Flink's watermark is the minimum over the source's
 * partitions, ours is per market: equal when every partition is ordered by event time, as the bench data is.
 */
public final class CandleJob {
  private static final String[] INTERVALS = {"1m", "5m", "15m", "1h", "1d"};
  private static final long[] INTERVAL_MS = {60_000L, 300_000L, 900_000L, 3_600_000L, 86_400_000L};

  private CandleJob() {}

  public static void main(String[] args) throws Exception {
    Settings s = Settings.from(args);
    Events.emit("main", "");
    Configuration conf = new Configuration();
    conf.set(StateBackendOptions.STATE_BACKEND, s.stateBackend);
    conf.set(CheckpointingOptions.CHECKPOINT_STORAGE, "jobmanager");
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(s.parallelism, conf);
    env.enableCheckpointing(s.checkpointMs, CheckpointingMode.EXACTLY_ONCE);

    KafkaSource<Tick> source =
        KafkaSource.<Tick>builder()
            .setBootstrapServers(s.brokers)
            .setTopics(s.topic)
            .setGroupId(s.groupId)
            // Always the whole topic, whatever the group committed before: a run is measured from its first record.
            .setStartingOffsets(OffsetsInitializer.earliest())
            .setValueOnlyDeserializer(new TickDeserializer(s.expected))
            .build();
    WatermarkStrategy<Tick> watermarks =
        WatermarkStrategy.<Tick>forBoundedOutOfOrderness(Duration.ofMillis(s.allowedLatenessMs))
            .withTimestampAssigner((tick, kafkaTimestamp) -> tick.eventTime);
    DataStream<Tick> ticks = env.fromSource(source, watermarks, "kafka " + s.topic);

    // Chained (the default), the source's thread also runs the tick sink's flushes, and waits for Postgres in them;
    // unchained, the sink has a thread of its own and the records cross a network buffer to it.
    DataStreamSink<Tick> tickSink = ticks.sinkTo(Sinks.ticks(s)).name("ticks → Postgres");
    if (s.unchainSinks) tickSink.disableChaining();

    KeyedStream<Tick, String> byMarket = ticks.keyBy(Tick::marketOf, Types.STRING);
    DataStream<Candle> candles = null;
    for (int i = 0; i < INTERVALS.length; i++) {
      DataStream<Candle> one =
          byMarket
              .window(TumblingEventTimeWindows.of(Duration.ofMillis(INTERVAL_MS[i])))
              .trigger(new EarlyFiringTrigger(s.earlyFireMs))
              .aggregate(new CandleAggregate(), new CandleWindow(INTERVALS[i]))
              .name("candles " + INTERVALS[i]);
      candles = candles == null ? one : candles.union(one);
    }
    candles.sinkTo(Sinks.candles(s)).name("candles → Postgres");

    env.execute("flink-candles " + s.topic);
  }
}
