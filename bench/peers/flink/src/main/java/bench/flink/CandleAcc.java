package bench.flink;

/**
 * A candle being built (our CandleState, src/Domain/Aggregate.ts): running sums for VWAP and the event times that set
 * open and close. Kept in window state (heap / hashmap backend) and checkpointed; a Flink POJO.
 */
public class CandleAcc {
  public String symbol;
  public double open;
  public double high;
  public double low;
  public double close;
  public long openTime;
  public long closeTime;
  public double volume;
  public int count;
  public double pvSum;
  public double vSum;
  public double pSum;

  public CandleAcc() {}

  /** (eventTime, price) order, independent of arrival order, as ours for ticks without trade ids. */
  static boolean before(long time, double price, long otherTime, double otherPrice) {
    return time < otherTime || (time == otherTime && price < otherPrice);
  }

  void add(Tick t) {
    double v = t.volumeOrZero();
    if (count == 0) {
      symbol = t.symbol;
      open = high = low = close = t.price;
      openTime = closeTime = t.eventTime;
    } else {
      if (before(t.eventTime, t.price, openTime, open)) {
        open = t.price;
        openTime = t.eventTime;
      }
      if (before(closeTime, close, t.eventTime, t.price)) {
        close = t.price;
        closeTime = t.eventTime;
      }
      high = Math.max(high, t.price);
      low = Math.min(low, t.price);
    }
    volume += v;
    count++;
    pvSum += t.price * v;
    vSum += v;
    pSum += t.price;
  }

  /** Clamped to [low, high] as ours (float underflow can move a weighted mean out of it). */
  double vwap() {
    double w = vSum > 0 ? pvSum / vSum : pSum / count;
    return Math.min(high, Math.max(low, w));
  }
}
