package bench.flink;

import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

/** The window's accumulator → a candle row, with its market (the key), interval, bucket start and status. */
public class CandleWindow extends ProcessWindowFunction<CandleAcc, Candle, String, TimeWindow> {
  private final String interval;

  public CandleWindow(String interval) {
    this.interval = interval;
  }

  @Override
  public void process(String market, Context ctx, Iterable<CandleAcc> accs, Collector<Candle> out) {
    CandleAcc a = accs.iterator().next();
    Candle c = new Candle();
    c.market = market;
    c.symbol = a.symbol;
    c.interval = interval;
    c.bucketStart = ctx.window().getStart();
    c.open = a.open;
    c.high = a.high;
    c.low = a.low;
    c.close = a.close;
    c.volume = a.volume;
    c.tickCount = a.count;
    c.vwap = a.vwap();
    c.status = ctx.currentWatermark() >= ctx.window().maxTimestamp() ? "final" : "provisional";
    out.collect(c);
  }
}
