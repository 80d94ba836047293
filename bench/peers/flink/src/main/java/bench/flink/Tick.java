package bench.flink;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/**
 * One tick as the producer publishes it on the bus (src/Domain/Tick.ts). A Flink POJO (public fields, no-arg
 * constructor) so Flink serialises it with its PojoSerializer between operators, not Kryo.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public class Tick {
  public String symbol;
  public String coinId;
  public String source;
  /** Absent on samples (simulator, replay, coingecko): derived as our sampleMarket does, see {@link #marketOf}. */
  public String market;
  public double price;
  public Double volume;
  public Double volume24h;
  public Double marketCap;
  public Double change24h;
  public long eventTime;
  public long ingestTime;
  public Long tradeId;
  public String side;

  public Tick() {}

  /** The market key our processor uses (src/Domain/TickMarket.ts): `venue:SYM-USD` for a sample. */
  public String marketOf() {
    if (market != null) return market;
    String venue = "replay".equals(source) ? "coingecko" : source;
    return venue + ":" + symbol + "-USD";
  }

  public double volumeOrZero() {
    return volume == null ? 0.0 : volume;
  }
}
