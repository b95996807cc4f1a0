#include "loops.h"

#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "common.h"

namespace setrain {
namespace {

// Below this many elements a parallel region costs more than it saves (each one is a barrier for
// both threads, and on a shared machine a descheduled thread stalls the whole region).
constexpr int64_t kParallelMin = 1 << 17;

inline int nthr(int64_t work) { return work >= kParallelMin ? threads() : 1; }

template <typename F>
void binary_flat(const float* a, const float* b, float* out, int64_t n, F f) {
#pragma omp parallel for num_threads(nthr(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
}

template <typename F>
void binary_scalar_b(const float* a, float b, float* out, int64_t n, F f) {
#pragma omp parallel for num_threads(nthr(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b);
}

template <typename F>
void binary_scalar_a(float a, const float* b, float* out, int64_t n, F f) {
#pragma omp parallel for num_threads(nthr(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = f(a, b[i]);
}

// a is [rows, c] and b is [c] (or the reverse when swap).
template <typename F>
void binary_rowvec(const float* a, const float* v, float* out, int64_t rows, int64_t c, bool swap,
                   F f) {
#pragma omp parallel for num_threads(nthr(rows * c)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* ar = a + r * c;
    float* o = out + r * c;
    if (swap) {
      for (int64_t j = 0; j < c; ++j) o[j] = f(v[j], ar[j]);
    } else {
      for (int64_t j = 0; j < c; ++j) o[j] = f(ar[j], v[j]);
    }
  }
}

// a is [rows, c] and b is [rows] broadcast along c (or the reverse when swap).
template <typename F>
void binary_colvec(const float* a, const float* v, float* out, int64_t rows, int64_t c, bool swap,
                   F f) {
#pragma omp parallel for num_threads(nthr(rows * c)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* ar = a + r * c;
    float* o = out + r * c;
    const float vr = v[r];
    if (swap) {
      for (int64_t j = 0; j < c; ++j) o[j] = f(vr, ar[j]);
    } else {
      for (int64_t j = 0; j < c; ++j) o[j] = f(ar[j], vr);
    }
  }
}

template <typename F>
void binary_general(const float* a, const int64_t* as, const float* b, const int64_t* bs,
                    const int64_t* shape, int rank, float* out, F f) {
  // Pad to 6 dims; the innermost dim runs as a strided loop.
  int64_t sh[6], sa[6], sb[6];
  int pad = 6 - rank;
  for (int i = 0; i < 6; ++i) {
    sh[i] = i < pad ? 1 : shape[i - pad];
    sa[i] = i < pad ? 0 : as[i - pad];
    sb[i] = i < pad ? 0 : bs[i - pad];
  }
  int64_t outer = sh[0] * sh[1] * sh[2] * sh[3] * sh[4];
  int64_t inner = sh[5];
#pragma omp parallel for num_threads(nthr(outer * inner)) schedule(static)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t rem = o, ia = 0, ib = 0;
    for (int d = 4; d >= 0; --d) {
      int64_t idx = rem % sh[d];
      rem /= sh[d];
      ia += idx * sa[d];
      ib += idx * sb[d];
    }
    float* po = out + o * inner;
    const float* pa = a + ia;
    const float* pb = b + ib;
    if (sa[5] == 1 && sb[5] == 1) {
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], pb[j]);
    } else if (sa[5] == 1 && sb[5] == 0) {
      const float vb = pb[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j], vb);
    } else if (sa[5] == 0 && sb[5] == 1) {
      const float va = pa[0];
      for (int64_t j = 0; j < inner; ++j) po[j] = f(va, pb[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j * sa[5]], pb[j * sb[5]]);
    }
  }
}

// Classifies the broadcast pattern so the common cases run as flat, vectorisable loops.
template <typename F>
void binary_dispatch(const float* a, const int64_t* as, const float* b, const int64_t* bs,
                     const int64_t* shape, int rank, float* out, F f) {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) n *= shape[i];
  if (n == 0) return;
  // Contiguous strides of the output.
  std::vector<int64_t> cs(rank);
  int64_t acc = 1;
  for (int i = rank - 1; i >= 0; --i) {
    cs[i] = shape[i] == 1 ? 0 : acc;
    acc *= shape[i];
  }
  auto norm = [&](const int64_t* s, int i) { return shape[i] == 1 ? 0 : s[i]; };
  bool a_full = true, b_full = true, a_zero = true, b_zero = true;
  for (int i = 0; i < rank; ++i) {
    if (norm(as, i) != cs[i]) a_full = false;
    if (norm(bs, i) != cs[i]) b_full = false;
    if (norm(as, i) != 0) a_zero = false;
    if (norm(bs, i) != 0) b_zero = false;
  }
  if (a_full && b_full) return binary_flat(a, b, out, n, f);
  if (a_full && b_zero) return binary_scalar_b(a, b[0], out, n, f);
  if (b_full && a_zero) return binary_scalar_a(a[0], b, out, n, f);
  if (rank >= 1) {
    const int last = rank - 1;
    const int64_t c = shape[last];
    // Vector along the last axis: strides 0 except the last, which is 1.
    auto is_rowvec = [&](const int64_t* s) {
      if (norm(s, last) != 1) return false;
      for (int i = 0; i < last; ++i)
        if (norm(s, i) != 0) return false;
      return true;
    };
    // Vector over all but the last axis (contiguous over them), broadcast along the last.
    auto is_colvec = [&](const int64_t* s) {
      if (norm(s, last) != 0) return false;
      int64_t e = 1;
      for (int i = last - 1; i >= 0; --i) {
        if (norm(s, i) != (shape[i] == 1 ? 0 : e)) return false;
        e *= shape[i];
      }
      return true;
    };
    if (a_full && is_rowvec(bs)) return binary_rowvec(a, b, out, n / c, c, false, f);
    if (b_full && is_rowvec(as)) return binary_rowvec(b, a, out, n / c, c, true, f);
    if (a_full && is_colvec(bs)) return binary_colvec(a, b, out, n / c, c, false, f);
    if (b_full && is_colvec(as)) return binary_colvec(b, a, out, n / c, c, true, f);
  }
  binary_general(a, as, b, bs, shape, rank, out, f);
}

template <typename F>
void unary_loop(const float* x, int64_t n, float* out, F f) {
#pragma omp parallel for num_threads(nthr(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

}  // namespace

void binary(int op, const float* a, const int64_t* as, const float* b, const int64_t* bs,
            const int64_t* shape, int rank, float* out) {
  switch (op) {
    case kAdd:
      return binary_dispatch(a, as, b, bs, shape, rank, out, [](float x, float y) { return x + y; });
    case kSub:
      return binary_dispatch(a, as, b, bs, shape, rank, out, [](float x, float y) { return x - y; });
    case kMul:
      return binary_dispatch(a, as, b, bs, shape, rank, out, [](float x, float y) { return x * y; });
    case kDiv:
      return binary_dispatch(a, as, b, bs, shape, rank, out, [](float x, float y) { return x / y; });
    case kMax:
      return binary_dispatch(a, as, b, bs, shape, rank, out,
                             [](float x, float y) { return std::isnan(x) || x > y ? x : y; });
    case kMin:
      return binary_dispatch(a, as, b, bs, shape, rank, out,
                             [](float x, float y) { return std::isnan(x) || x < y ? x : y; });
    case kSquaredDiff:
      return binary_dispatch(a, as, b, bs, shape, rank, out, [](float x, float y) {
        const float d = x - y;
        return d * d;
      });
    case kReluGrad:
      return binary_dispatch(a, as, b, bs, shape, rank, out,
                             [](float dy, float x) { return x > 0.f ? dy : 0.f; });
    case kSquareGrad:
      return binary_dispatch(a, as, b, bs, shape, rank, out,
                             [](float dy, float x) { return dy * (x * 2.f); });
    default:
      return;
  }
}

void unary(int op, const float* x, int64_t n, float alpha, float* out) {
  switch (op) {
    case kRelu_:
      return unary_loop(x, n, out, [](float v) { return v > 0.f ? v : (std::isnan(v) ? v : 0.f); });
    case kRelu6:
      return unary_loop(x, n, out, [](float v) { return std::isnan(v) ? v : std::min(std::max(v, 0.f), 6.f); });
    case kSigmoid:
      return unary_loop(x, n, out, [](float v) { return 1.f / (1.f + std::exp(-v)); });
    case kSquare:
      return unary_loop(x, n, out, [](float v) { return v * v; });
    case kSqrt:
      return unary_loop(x, n, out, [](float v) { return std::sqrt(v); });
    case kRsqrt:
      return unary_loop(x, n, out, [](float v) { return 1.f / std::sqrt(v); });
    case kNeg:
      return unary_loop(x, n, out, [](float v) { return -v; });
    case kExp:
      return unary_loop(x, n, out, [](float v) { return std::exp(v); });
    case kLog:
      return unary_loop(x, n, out, [](float v) { return std::log(v); });
    case kAbs:
      return unary_loop(x, n, out, [](float v) { return std::fabs(v); });
    case kStep:
      return unary_loop(x, n, out,
                        [alpha](float v) { return std::isnan(v) ? NAN : (v > 0.f ? 1.f : alpha); });
    case kReciprocal:
      return unary_loop(x, n, out, [](float v) { return 1.f / v; });
    case kTanh:
      return unary_loop(x, n, out, [](float v) { return std::tanh(v); });
    default:
      return;
  }
}

void reduce(int op, const float* x, int64_t outer, int64_t r, int64_t inner, float* out) {
  const int64_t total = outer * r * inner;
  if (inner == 1) {
    // Contiguous rows: one accumulator per output, summed in double for accuracy on long rows.
#pragma omp parallel for num_threads(nthr(total)) schedule(static)
    for (int64_t o = 0; o < outer; ++o) {
      const float* p = x + o * r;
      if (op == kMaxR) {
        float m = r > 0 ? p[0] : -INFINITY;
        for (int64_t j = 1; j < r; ++j) m = (p[j] > m || std::isnan(p[j])) ? p[j] : m;
        out[o] = m;
      } else {
        double s = 0;
        for (int64_t j = 0; j < r; ++j) s += p[j];
        out[o] = static_cast<float>(op == kMean ? s / static_cast<double>(r) : s);
      }
    }
    return;
  }
  // Reduce over the middle axis: every thread owns a slice of the inner axis when it is wide,
  // otherwise every thread reduces part of r into its own partial row.
  const int nt = nthr(total);
  for (int64_t o = 0; o < outer; ++o) {
    const float* base = x + o * r * inner;
    float* ob = out + o * inner;
    if (op == kMaxR) {
      std::vector<float> m(base, base + inner);
      for (int64_t j = 1; j < r; ++j) {
        const float* p = base + j * inner;
        for (int64_t i = 0; i < inner; ++i) m[i] = (p[i] > m[i] || std::isnan(p[i])) ? p[i] : m[i];
      }
      std::memcpy(ob, m.data(), inner * sizeof(float));
      continue;
    }
    std::vector<float> partial(static_cast<size_t>(nt) * inner, 0.f);
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      const int T = omp_get_num_threads();
      float* acc = partial.data() + static_cast<size_t>(t) * inner;
      const int64_t begin = r * t / T, end = r * (t + 1) / T;
      // Blocks of rows summed in float, blocks combined in float: error grows with log-ish depth.
      std::vector<float> block(inner);
      for (int64_t j0 = begin; j0 < end; j0 += 64) {
        const int64_t j1 = std::min(end, j0 + 64);
        std::fill(block.begin(), block.end(), 0.f);
        for (int64_t j = j0; j < j1; ++j) {
          const float* p = base + j * inner;
          for (int64_t i = 0; i < inner; ++i) block[i] += p[i];
        }
        for (int64_t i = 0; i < inner; ++i) acc[i] += block[i];
      }
    }
    for (int64_t i = 0; i < inner; ++i) {
      float s = 0.f;
      for (int t = 0; t < nt; ++t) s += partial[static_cast<size_t>(t) * inner + i];
      ob[i] = op == kMean ? s / static_cast<float>(r) : s;
    }
  }
}

void batch_norm(const float* x, const float* mean, const float* var, const float* offset,
                const float* scale, float eps, int64_t rows, int64_t c, float* y) {
  // (x - mean) first, like tfjs: folding the mean into the offset loses precision when the mean
  // is large next to the spread.
  std::vector<float> mul(c), add(c);
  for (int64_t j = 0; j < c; ++j) {
    mul[j] = (scale ? scale[j] : 1.f) / std::sqrt(var[j] + eps);
    add[j] = offset ? offset[j] : 0.f;
  }
  const float* m = mul.data();
  const float* a = add.data();
#pragma omp parallel for num_threads(nthr(rows * c)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - mean[j]) * m[j] + a[j];
  }
}

void batch_norm_grad(const float* x, const float* mean, const float* var, const float* scale,
                     const float* dy, float eps, int64_t rows, int64_t c, float* dx,
                     float* dmean, float* dvar, float* dscale, float* doffset) {
  std::vector<float> inv(c);
  for (int64_t j = 0; j < c; ++j) inv[j] = 1.f / std::sqrt(var[j] + eps);
  const int nt = nthr(rows * c);
  // Per-thread partial sums of dy and dy * (x - mean).
  std::vector<float> sdy(static_cast<size_t>(nt) * c, 0.f), sdyx(static_cast<size_t>(nt) * c, 0.f);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    float* a1 = sdy.data() + static_cast<size_t>(t) * c;
    float* a2 = sdyx.data() + static_cast<size_t>(t) * c;
    const int64_t begin = rows * t / T, end = rows * (t + 1) / T;
    std::vector<float> b1(c), b2(c), k(c);
    for (int64_t j = 0; j < c; ++j) k[j] = inv[j] * (scale ? scale[j] : 1.f);
    for (int64_t r0 = begin; r0 < end; r0 += 64) {
      const int64_t r1 = std::min(end, r0 + 64);
      std::fill(b1.begin(), b1.end(), 0.f);
      std::fill(b2.begin(), b2.end(), 0.f);
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * c;
        const float* dr = dy + r * c;
        if (dx != nullptr) {
          float* dxr = dx + r * c;
          for (int64_t j = 0; j < c; ++j) dxr[j] = dr[j] * k[j];
        }
        for (int64_t j = 0; j < c; ++j) {
          const float d = dr[j];
          b1[j] += d;
          b2[j] += d * (xr[j] - mean[j]);
        }
      }
      for (int64_t j = 0; j < c; ++j) {
        a1[j] += b1[j];
        a2[j] += b2[j];
      }
    }
  }
  for (int64_t j = 0; j < c; ++j) {
    float s1 = 0.f, s2 = 0.f;
    for (int t = 0; t < nt; ++t) {
      s1 += sdy[static_cast<size_t>(t) * c + j];
      s2 += sdyx[static_cast<size_t>(t) * c + j];
    }
    const float g = scale ? scale[j] : 1.f;
    if (doffset) doffset[j] = s1;
    if (dscale) dscale[j] = s2 * inv[j];
    if (dmean) dmean[j] = -inv[j] * g * s1;
    if (dvar) dvar[j] = -0.5f * inv[j] * inv[j] * inv[j] * g * s2;
  }
}

// Per-channel sums over the rows of [rows, c] data: row(r, acc0, acc1) adds row r's terms into
// K accumulators of c floats. Rows are summed in blocks of 64 before joining the running totals
// (less rounding than one long float sum), and each thread keeps its own partial sums.
template <int K, typename Row>
void channel_sums(int64_t rows, int64_t c, Row row, float* const (&out)[K]) {
  const int nt = nthr(rows * c);
  std::vector<float> partial(static_cast<size_t>(nt) * K * c, 0.f);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num();
    const int T = omp_get_num_threads();
    float* acc = partial.data() + static_cast<size_t>(t) * K * c;
    const int64_t begin = rows * t / T, end = rows * (t + 1) / T;
    std::vector<float> block(static_cast<size_t>(K) * c);
    for (int64_t r0 = begin; r0 < end; r0 += 64) {
      const int64_t r1 = std::min(end, r0 + 64);
      std::fill(block.begin(), block.end(), 0.f);
      for (int64_t r = r0; r < r1; ++r) row(r, block.data());
      for (int64_t j = 0; j < K * c; ++j) acc[j] += block[j];
    }
  }
  for (int k = 0; k < K; ++k) {
    for (int64_t j = 0; j < c; ++j) {
      float s = 0.f;
      for (int t = 0; t < nt; ++t) s += partial[(static_cast<size_t>(t) * K + k) * c + j];
      out[k][j] = s;
    }
  }
}

void batch_norm_train(const float* x, const float* offset, float eps, int64_t rows, int64_t c,
                      float* y, float* mean, float* var) {
  const float n = static_cast<float>(rows);
  // Two passes for the statistics, like tf.moments: the mean, then the mean squared deviation
  // (one-pass E[x^2] - E[x]^2 cancels catastrophically when the mean is large).
  float* const sum_out[1] = {mean};
  channel_sums<1>(rows, c, [&](int64_t r, float* b) {
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; ++j) b[j] += xr[j];
  }, sum_out);
  for (int64_t j = 0; j < c; ++j) mean[j] /= n;
  float* const sq_out[1] = {var};
  channel_sums<1>(rows, c, [&](int64_t r, float* b) {
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; ++j) {
      const float d = xr[j] - mean[j];
      b[j] += d * d;
    }
  }, sq_out);
  for (int64_t j = 0; j < c; ++j) var[j] /= n;
  batch_norm(x, mean, var, offset, nullptr, eps, rows, c, y);
}

void batch_norm_moving_averages(const float* old_mean, const float* old_var, const float* mean,
                                const float* var, int64_t rows, int64_t c, float rate,
                                float* new_mean, float* new_var) {
  const float unbias = static_cast<float>(static_cast<double>(rows) / static_cast<double>(rows - 1));
  for (int64_t i = 0; i < c; i++) {
    const float batch_var = rows > 1 ? var[i] * unbias : var[i];
    new_mean[i] = old_mean[i] - (old_mean[i] - mean[i]) * rate;
    new_var[i] = old_var[i] - (old_var[i] - batch_var) * rate;
  }
}

void batch_norm_train_grad(const float* x, const float* mean, const float* var, const float* dy,
                           float eps, int64_t rows, int64_t c, float* dx, float* doffset) {
  const float n = static_cast<float>(rows);
  std::vector<float> sdyx(c), inv(c), k1(c), k2(c);
  for (int64_t j = 0; j < c; ++j) inv[j] = 1.f / std::sqrt(var[j] + eps);
  float* const out[2] = {doffset, sdyx.data()};
  channel_sums<2>(rows, c, [&](int64_t r, float* b) {
    const float* xr = x + r * c;
    const float* dr = dy + r * c;
    float* b2 = b + c;
    for (int64_t j = 0; j < c; ++j) {
      b[j] += dr[j];
      b2[j] += dr[j] * (xr[j] - mean[j]);
    }
  }, out);
  // dx = inv * (dy - mean(dy) - (x - mean) * inv^2 * mean(dy * (x - mean))).
  for (int64_t j = 0; j < c; ++j) {
    k1[j] = doffset[j] / n;
    k2[j] = inv[j] * inv[j] * (sdyx[j] / n);
  }
  const float *pi = inv.data(), *p1 = k1.data(), *p2 = k2.data();
#pragma omp parallel for num_threads(nthr(rows * c)) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    const float* dr = dy + r * c;
    float* o = dx + r * c;
    for (int64_t j = 0; j < c; ++j) o[j] = pi[j] * (dr[j] - p1[j] - (xr[j] - mean[j]) * p2[j]);
  }
}

void copy2d(const float* src, int64_t src_pitch, float* dst, int64_t dst_pitch, int64_t rows,
            int64_t cols) {
#pragma omp parallel for num_threads(nthr(rows * cols)) schedule(static)
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + r * dst_pitch, src + r * src_pitch, cols * sizeof(float));
}

void adam(const float* value, const float* m, const float* v, const float* g, int64_t n, float lr,
          float beta1, float one_minus_beta1, float beta2, float one_minus_beta2, float eps,
          float one_minus_acc_beta1, float one_minus_acc_beta2, float* new_value, float* new_m,
          float* new_v) {
  const float neg_lr = -lr;
  // simd: the outputs may be the inputs (in place), which stops GCC's own vectorisation (too many
  // pointer pairs to check), yet each element is read before it is written, so lanes are independent.
#pragma omp parallel for simd num_threads(nthr(n)) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * beta1 + gi * one_minus_beta1;
    const float vi = v[i] * beta2 + (gi * gi) * one_minus_beta2;
    const float mhat = mi / one_minus_acc_beta1;
    const float vhat = vi / one_minus_acc_beta2;
    new_m[i] = mi;
    new_v[i] = vi;
    new_value[i] = (mhat / (std::sqrt(vhat) + eps)) * neg_lr + value[i];
  }
}

void max_pool(const PoolShape& s, const float* x, float* y) {
  const int64_t work = static_cast<int64_t>(s.n) * s.oh * s.ow * s.c * s.kh * s.kw;
#pragma omp parallel for collapse(2) num_threads(nthr(work)) schedule(static)
  for (int b = 0; b < s.n; ++b)
    for (int oy = 0; oy < s.oh; ++oy)
      for (int ox = 0; ox < s.ow; ++ox) {
        float* out = y + ((static_cast<int64_t>(b) * s.oh + oy) * s.ow + ox) * s.c;
        for (int ch = 0; ch < s.c; ++ch) out[ch] = -INFINITY;
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.sh - s.pt + ky;
          if (iy < 0 || iy >= s.ih) continue;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int ix = ox * s.sw - s.pl + kx;
            if (ix < 0 || ix >= s.iw) continue;
            const float* in = x + ((static_cast<int64_t>(b) * s.ih + iy) * s.iw + ix) * s.c;
            for (int ch = 0; ch < s.c; ++ch) out[ch] = in[ch] > out[ch] ? in[ch] : out[ch];
          }
        }
      }
}

void avg_pool(const PoolShape& s, const float* x, float* y) {
  const int64_t work = static_cast<int64_t>(s.n) * s.oh * s.ow * s.c * s.kh * s.kw;
#pragma omp parallel for collapse(2) num_threads(nthr(work)) schedule(static)
  for (int b = 0; b < s.n; ++b)
    for (int oy = 0; oy < s.oh; ++oy)
      for (int ox = 0; ox < s.ow; ++ox) {
        float* out = y + ((static_cast<int64_t>(b) * s.oh + oy) * s.ow + ox) * s.c;
        for (int ch = 0; ch < s.c; ++ch) out[ch] = 0.f;
        int count = 0;
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.sh - s.pt + ky;
          if (iy < 0 || iy >= s.ih) continue;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int ix = ox * s.sw - s.pl + kx;
            if (ix < 0 || ix >= s.iw) continue;
            ++count;
            const float* in = x + ((static_cast<int64_t>(b) * s.ih + iy) * s.iw + ix) * s.c;
            for (int ch = 0; ch < s.c; ++ch) out[ch] += in[ch];
          }
        }
        // tfjs (and TensorFlow) average over the window cells inside the input only.
        const float inv = count > 0 ? 1.f / static_cast<float>(count) : 0.f;
        for (int ch = 0; ch < s.c; ++ch) out[ch] *= inv;
      }
}

void max_pool_grad(const PoolShape& s, const float* dy, const float* x, float* dx) {
  const int64_t in_size = static_cast<int64_t>(s.n) * s.ih * s.iw * s.c;
  std::memset(dx, 0, in_size * sizeof(float));
  // Images are independent, so parallelise over the batch only (windows overlap within one).
#pragma omp parallel for num_threads(nthr(in_size * s.kh * s.kw / 4)) schedule(static)
  for (int b = 0; b < s.n; ++b) {
    std::vector<int64_t> arg(s.c);
    std::vector<float> best(s.c);
    for (int oy = 0; oy < s.oh; ++oy)
      for (int ox = 0; ox < s.ow; ++ox) {
        for (int ch = 0; ch < s.c; ++ch) {
          best[ch] = -INFINITY;
          arg[ch] = -1;
        }
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.sh - s.pt + ky;
          if (iy < 0 || iy >= s.ih) continue;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int ix = ox * s.sw - s.pl + kx;
            if (ix < 0 || ix >= s.iw) continue;
            const int64_t off = ((static_cast<int64_t>(b) * s.ih + iy) * s.iw + ix) * s.c;
            const float* in = x + off;
            for (int ch = 0; ch < s.c; ++ch)
              if (in[ch] > best[ch] || arg[ch] < 0) {
                best[ch] = in[ch];
                arg[ch] = off + ch;
              }
          }
        }
        const float* g = dy + ((static_cast<int64_t>(b) * s.oh + oy) * s.ow + ox) * s.c;
        for (int ch = 0; ch < s.c; ++ch)
          if (arg[ch] >= 0) dx[arg[ch]] += g[ch];
      }
  }
}

void avg_pool_grad(const PoolShape& s, const float* dy, float* dx) {
  // tfjs' convention (cpu and webgl AvgPoolGrad): every window cell gets dy / (kh * kw), also at
  // padded borders where the forward pass averaged fewer cells. Kept so that all tfjs engines
  // train alike.
  const int64_t in_size = static_cast<int64_t>(s.n) * s.ih * s.iw * s.c;
  std::memset(dx, 0, in_size * sizeof(float));
  const float inv = 1.f / static_cast<float>(s.kh * s.kw);
#pragma omp parallel for num_threads(nthr(in_size * s.kh * s.kw / 4)) schedule(static)
  for (int b = 0; b < s.n; ++b)
    for (int oy = 0; oy < s.oh; ++oy)
      for (int ox = 0; ox < s.ow; ++ox) {
        const float* g = dy + ((static_cast<int64_t>(b) * s.oh + oy) * s.ow + ox) * s.c;
        for (int ky = 0; ky < s.kh; ++ky) {
          const int iy = oy * s.sh - s.pt + ky;
          if (iy < 0 || iy >= s.ih) continue;
          for (int kx = 0; kx < s.kw; ++kx) {
            const int ix = ox * s.sw - s.pl + kx;
            if (ix < 0 || ix >= s.iw) continue;
            float* d = dx + ((static_cast<int64_t>(b) * s.ih + iy) * s.iw + ix) * s.c;
            for (int ch = 0; ch < s.c; ++ch) d[ch] += g[ch] * inv;
          }
        }
      }
}

}  // namespace setrain
