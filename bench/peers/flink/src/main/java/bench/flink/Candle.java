package bench.flink;

/** One candle row for the `candles` table (its key: market, interval, bucket_start). A Flink POJO. */
public class Candle {
  public String market;
  public String symbol;
  public String interval;
  public long bucketStart;
  public double open;
  public double high;
  public double low;
  public double close;
  public double volume;
  public int tickCount;
  public double vwap;
  /** "final" once the watermark passed the window's end, else "provisional" (an early firing). */
  public String status;

  public Candle() {}
}
