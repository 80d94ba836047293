package bench.flink;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.windowing.triggers.Trigger;
import org.apache.flink.streaming.api.windowing.triggers.TriggerResult;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;

/**
 * Event-time firing with early (provisional) results: FIRE when the watermark passes the window's end (its final
 * value), and, while it is open, at most once every `everyMs` of processing time after a tick changed it. Our
 * processor writes provisional candles at every checkpoint; this is the Flink idiom for the same. Without the early
 * firings the newest windows (within the 2-minute lateness of the newest tick) would never be written: an unbounded
 * Kafka source has no end-of-input watermark.
 */
public class EarlyFiringTrigger extends Trigger<Object, TimeWindow> {
  private final long everyMs;
  private final ValueStateDescriptor<Long> pendingDescriptor = new ValueStateDescriptor<>("early-fire-at", Types.LONG);

  public EarlyFiringTrigger(long everyMs) {
    this.everyMs = everyMs;
  }

  @Override
  public TriggerResult onElement(Object element, long timestamp, TimeWindow window, TriggerContext ctx)
      throws Exception {
    ctx.registerEventTimeTimer(window.maxTimestamp());
    ValueState<Long> pending = ctx.getPartitionedState(pendingDescriptor);
    if (pending.value() == null) {
      long at = ctx.getCurrentProcessingTime() + everyMs;
      ctx.registerProcessingTimeTimer(at);
      pending.update(at);
    }
    return TriggerResult.CONTINUE;
  }

  @Override
  public TriggerResult onProcessingTime(long time, TimeWindow window, TriggerContext ctx) {
    ctx.getPartitionedState(pendingDescriptor).clear();
    return TriggerResult.FIRE;
  }

  @Override
  public TriggerResult onEventTime(long time, TimeWindow window, TriggerContext ctx) {
    return time == window.maxTimestamp() ? TriggerResult.FIRE : TriggerResult.CONTINUE;
  }

  @Override
  public void clear(TimeWindow window, TriggerContext ctx) throws Exception {
    ValueState<Long> pending = ctx.getPartitionedState(pendingDescriptor);
    Long at = pending.value();
    if (at != null) ctx.deleteProcessingTimeTimer(at);
    pending.clear();
    ctx.deleteEventTimeTimer(window.maxTimestamp());
  }

  @Override
  public String toString() {
    return "EarlyFiringTrigger(" + everyMs + " ms)";
  }
}
