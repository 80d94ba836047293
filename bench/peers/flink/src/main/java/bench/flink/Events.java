package bench.flink;

import java.util.concurrent.atomic.AtomicLong;

/** JSON lines on stdout for the Node runner (Flink's own logs go to stderr, see log4j2.properties). */
final class Events {
  private static final AtomicLong UNDECODABLE = new AtomicLong();

  private Events() {}

  static synchronized void emit(String ev, String extra) {
    System.out.println("{\"ev\":\"" + ev + "\",\"t\":" + System.currentTimeMillis() + extra + "}");
    System.out.flush();
  }

  static void undecodable(String why) {
    long n = UNDECODABLE.incrementAndGet();
    // The first few, then every 10,000th: a bad topic must not flood stdout.
    if (n <= 5 || n % 10_000 == 0) emit("undecodable", ",\"n\":" + n + ",\"why\":\"" + why.replace('"', '\'') + "\"");
  }
}
