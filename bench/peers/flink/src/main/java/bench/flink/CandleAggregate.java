package bench.flink;

import org.apache.flink.api.common.functions.AggregateFunction;

/** Incremental OHLC, volume, count and VWAP sums: one accumulator per key and window, O(1) per tick. */
public class CandleAggregate implements AggregateFunction<Tick, CandleAcc, CandleAcc> {
  @Override
  public CandleAcc createAccumulator() {
    return new CandleAcc();
  }

  @Override
  public CandleAcc add(Tick tick, CandleAcc acc) {
    acc.add(tick);
    return acc;
  }

  @Override
  public CandleAcc getResult(CandleAcc acc) {
    return acc;
  }

  @Override
  public CandleAcc merge(CandleAcc a, CandleAcc b) {
    throw new UnsupportedOperationException("tumbling windows never merge");
  }
}
