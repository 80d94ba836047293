package bench.flink;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.util.Collector;

/**
 * Bus JSON → Tick with Jackson. A record that does not decode, or has no symbol or no positive price, is dropped and
 * counted (our processor sends it to the DLQ instead). Prints `{"ev":"first",...}` once per JVM when the first record
 * arrives (bench/peers/flink.mjs measures from there) and `{"ev":"consumed",...}` when the source subtasks of this JVM
 * have read `expected` records (it polls Postgres for the end only from then on).
 */
public class TickDeserializer implements DeserializationSchema<Tick> {
  private static final AtomicBoolean FIRST = new AtomicBoolean(false);
  private static final AtomicLong READ = new AtomicLong();
  private final long expected;
  private transient ObjectMapper mapper;

  public TickDeserializer(long expected) {
    this.expected = expected;
  }

  @Override
  public void open(InitializationContext context) {
    mapper = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  }

  @Override
  public Tick deserialize(byte[] message) {
    throw new UnsupportedOperationException("the collector variant is used");
  }

  @Override
  public void deserialize(byte[] message, Collector<Tick> out) throws IOException {
    if (!FIRST.getAndSet(true)) Events.emit("first", "");
    if (READ.incrementAndGet() == expected) Events.emit("consumed", ",\"records\":" + expected);
    Tick tick;
    try {
      tick = mapper.readValue(message, Tick.class);
    } catch (IOException e) {
      Events.undecodable(e.getMessage());
      return;
    }
    if (tick.symbol == null || tick.source == null || !(tick.price > 0) || Double.isInfinite(tick.price)) {
      Events.undecodable("missing symbol/source or bad price");
      return;
    }
    out.collect(tick);
  }

  @Override
  public boolean isEndOfStream(Tick nextElement) {
    return false;
  }

  @Override
  public TypeInformation<Tick> getProducedType() {
    return TypeInformation.of(Tick.class);
  }
}
