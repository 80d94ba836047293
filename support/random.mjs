// @ts-check
// Seeded randomness, so that a run (test data, kill points, a soak's fault order) can be replayed.

/**
 * mulberry32: small, seeded, good enough for test data; the same seed gives the same sequence in [0, 1).
 * @param {number} seed
 */
export const mulberry32 = (seed) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
