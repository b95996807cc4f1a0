import { normalCdf, normalQuantile } from './normal-math.js';
import { type Prng } from './prng.js';

/** One Gaussian of a mixture, truncated to the estimator's [low, high]. */
interface Component {
  mu: number;
  sigma: number;
  weight: number;
  /** log of the normal's mass inside [low, high], to renormalise the truncated density. */
  logMass: number;
}

/** Options of a one-dimensional Parzen estimator. */
export interface ParzenOptions {
  /** Bounds of the (possibly log-transformed) space; samples and densities live inside them. */
  low: number;
  high: number;
  /** Centre and width of the prior component (the spec's distribution, widened to the range). */
  priorMu: number;
  priorSigma: number;
  /** Weight of the prior relative to one observation. */
  priorWeight: number;
}

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** Mass of N(mu, sigma) inside [low, high], computed on the side of the mean where it is accurate. */
function massInside(mu: number, sigma: number, low: number, high: number): number {
  const a = (low - mu) / sigma;
  const b = (high - mu) / sigma;
  // Φ(b) - Φ(a) loses every digit when both are near 1; mirror to the lower tail.
  return a > 0 ? normalCdf(-a) - normalCdf(-b) : normalCdf(b) - normalCdf(a);
}

/**
 * The adaptive Parzen estimator of Bergstra et al. (2011) in one dimension, as in hyperopt: one
 * truncated Gaussian per observation plus the prior; each observation's width is the larger gap
 * to its sorted neighbours (the prior's centre counts as one), clipped to
 * [(high - low) / min(100, 1 + n), high - low], so dense regions get narrow kernels.
 */
export class ParzenEstimator {
  private readonly components: Component[];

  constructor(
    observations: readonly number[],
    private readonly options: ParzenOptions,
  ) {
    const { low, high, priorMu, priorSigma, priorWeight } = options;
    const range = high - low;
    const mus = observations.map((x) => Math.min(Math.max(x, low), high));
    const sorted = [...mus, priorMu].sort((a, b) => a - b);
    const minSigma = range / Math.min(100, 1 + mus.length);
    const sigmaOf = (mu: number): number => {
      const i = sorted.indexOf(mu);
      const left = i > 0 ? mu - (sorted[i - 1] ?? mu) : 0;
      const right = i < sorted.length - 1 ? (sorted[i + 1] ?? mu) - mu : 0;
      return Math.min(Math.max(left, right, minSigma), range);
    };
    const raw = [
      { mu: priorMu, sigma: priorSigma, weight: priorWeight },
      ...mus.map((mu) => ({ mu, sigma: sigmaOf(mu), weight: 1 })),
    ];
    const total = raw.reduce((s, c) => s + c.weight, 0);
    this.components = raw.map((c) => ({
      ...c,
      weight: c.weight / total,
      logMass: Math.log(Math.max(massInside(c.mu, c.sigma, low, high), Number.MIN_VALUE)),
    }));
  }

  /** One draw: pick a component by weight, then invert its truncated CDF. */
  sample(rng: Prng): number {
    const { low, high } = this.options;
    let pick = rng.next();
    let chosen = this.components[this.components.length - 1];
    for (const c of this.components) {
      pick -= c.weight;
      if (pick < 0) {
        chosen = c;
        break;
      }
    }
    if (!chosen) return (low + high) / 2;
    const { mu, sigma } = chosen;
    const a = (low - mu) / sigma;
    const b = (high - mu) / sigma;
    const u = rng.next();
    // Sample on the side where the CDF keeps its precision (mirror when the mass is in the upper tail).
    const z =
      a > 0
        ? -normalQuantile(normalCdf(-b) + u * (normalCdf(-a) - normalCdf(-b)))
        : normalQuantile(normalCdf(a) + u * (normalCdf(b) - normalCdf(a)));
    const x = mu + sigma * z;
    return Number.isFinite(x)
      ? Math.min(Math.max(x, low), high)
      : Math.min(Math.max(mu, low), high);
  }

  /** log of the mixture's density at x. */
  logDensity(x: number): number {
    let max = -Infinity;
    const terms = this.components.map((c) => {
      const z = (x - c.mu) / c.sigma;
      const t = Math.log(c.weight) - 0.5 * z * z - Math.log(c.sigma) - LOG_SQRT_2PI - c.logMass;
      if (t > max) max = t;
      return t;
    });
    if (max === -Infinity) return -Infinity;
    return max + Math.log(terms.reduce((s, t) => s + Math.exp(t - max), 0));
  }
}
