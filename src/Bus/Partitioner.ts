import { Partitioners } from "kafkajs"

// kafkajs's default partitioner is murmur2, the same as the Java client's: a symbol lands
// in the same partition on the embedded bus as on a real broker.
const murmur2 = Partitioners.DefaultPartitioner()

export const partitionFor = (key: string, partitions: number): number =>
  murmur2({
    topic: "",
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      offlineReplicas: [],
      partitionErrorCode: 0
    })),
    message: { key, value: null }
  })
