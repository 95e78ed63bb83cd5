// Randomised tests with a seed: the seed is printed in any failure's message, and
// TRUEUP_TEST_SEED=<seed> replays the same random choices.
import { Rng } from '../../pipeline/generator/prng.js';

/** TRUEUP_TEST_SEED when set, else a fresh seed. */
export function testSeed(): number {
  const env = process.env.TRUEUP_TEST_SEED;
  return env ? Number(env) >>> 0 : Math.floor(Math.random() * 2 ** 31);
}

/** Runs `fn` with a seeded random in [0, 1); a failure's message names the seed to replay it. */
export async function withSeed<T>(
  fn: (random: () => number, seed: number) => Promise<T>,
  seed = testSeed(),
): Promise<T> {
  const rng = new Rng(seed);
  try {
    return await fn(() => rng.next(), seed);
  } catch (err) {
    if (err instanceof Error)
      err.message = `${err.message}\n(random seed ${seed}: replay with TRUEUP_TEST_SEED=${seed})`;
    throw err;
  }
}
