package bench.flink;

import java.io.Serializable;
import org.apache.flink.api.java.utils.ParameterTool;

/** The job's options (`--name value`), all from bench/peers/flink.mjs. */
final class Settings implements Serializable {
  String brokers;
  String topic;
  String groupId;
  String jdbcUrl;
  String user;
  String password;
  int parallelism;
  long checkpointMs;
  long allowedLatenessMs;
  long earlyFireMs;
  int batchSize;
  long batchIntervalMs;
  String stateBackend;
  boolean unchainSinks;
  long expected;

  static Settings from(String[] args) {
    ParameterTool p = ParameterTool.fromArgs(args);
    Settings s = new Settings();
    s.brokers = p.getRequired("brokers");
    s.topic = p.getRequired("topic");
    s.groupId = p.get("group", "flink-candles");
    s.jdbcUrl = p.getRequired("jdbc-url");
    s.user = p.get("user", "");
    s.password = p.get("password", "");
    s.parallelism = p.getInt("parallelism", 1);
    s.checkpointMs = p.getLong("checkpoint-ms", 60_000);
    s.allowedLatenessMs = p.getLong("allowed-lateness-ms", 120_000);
    s.earlyFireMs = p.getLong("early-fire-ms", 1_000);
    s.batchSize = p.getInt("batch-size", 5_000);
    s.batchIntervalMs = p.getLong("batch-interval-ms", 1_000);
    s.stateBackend = p.get("state-backend", "hashmap");
    s.unchainSinks = p.getBoolean("unchain-sinks", false);
    s.expected = p.getLong("expected", 0);
    return s;
  }
}
