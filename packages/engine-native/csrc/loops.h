// Elementwise, reduction, pooling and copy loops over float32 NHWC data, parallel with OpenMP.
#pragma once
#include <cstdint>

namespace setrain {

enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kMax = 4, kMin = 5, kSquaredDiff = 6,
                kReluGrad = 7, kSquareGrad = 8 };
enum UnaryOp {
  kRelu_ = 0, kSigmoid = 1, kSquare = 2, kSqrt = 3, kRsqrt = 4, kNeg = 5, kExp = 6, kLog = 7,
  kAbs = 8, kStep = 9, kReciprocal = 10, kTanh = 11, kRelu6 = 12
};
enum ReduceOp { kSum = 0, kMean = 1, kMaxR = 2 };

/** out[i] = a[i . a_strides] op b[i . b_strides] over out_shape (rank <= 6; stride 0 broadcasts). */
void binary(int op, const float* a, const int64_t* a_strides, const float* b,
            const int64_t* b_strides, const int64_t* out_shape, int rank, float* out);
void unary(int op, const float* x, int64_t n, float alpha, float* out);
/** x is [outer, r, inner]; out is [outer, inner]. */
void reduce(int op, const float* x, int64_t outer, int64_t r, int64_t inner, float* out);
/** x is [rows, c]; per-channel mean, variance, offset, scale (offset/scale may be null). */
void batch_norm(const float* x, const float* mean, const float* var, const float* offset,
                const float* scale, float eps, int64_t rows, int64_t c, float* y);
/** Whole-gradient of y = (x - mean) * rsqrt(var + eps) * scale + offset for mean/var inputs that
 * are constants: dx, and per-channel sums needed by the mean, variance, scale and offset grads. */
void batch_norm_grad(const float* x, const float* mean, const float* var, const float* scale,
                     const float* dy, float eps, int64_t rows, int64_t c, float* dx,
                     float* dmean, float* dvar, float* dscale, float* doffset);
/** Training-mode batch norm without scale: mean and (biased) variance of x's rows per channel,
 * then y = (x - mean) * rsqrt(var + eps) + offset (offset may be null). */
void batch_norm_train(const float* x, const float* offset, float eps, int64_t rows, int64_t c,
                      float* y, float* mean, float* var);
/** Keras' moving averages after a training batch norm, in the float32 steps of the unfused layer:
 * old - (old - batch) * rate, with the unbiased batch variance (rows / (rows - 1)). */
void batch_norm_moving_averages(const float* old_mean, const float* old_var, const float* mean,
                                const float* var, int64_t rows, int64_t c, float rate,
                                float* new_mean, float* new_var);
/** Gradient of batch_norm_train's y through x (including the batch statistics) and offset. */
void batch_norm_train_grad(const float* x, const float* mean, const float* var, const float* dy,
                           float eps, int64_t rows, int64_t c, float* dx, float* doffset);
/** Copies a [rows, cols] block with a source and a destination row pitch. */
void copy2d(const float* src, int64_t src_pitch, float* dst, int64_t dst_pitch, int64_t rows,
            int64_t cols);

/** One Adam step in tfjs' order of float32 operations; writes new value, m and v. */
void adam(const float* value, const float* m, const float* v, const float* g, int64_t n, float lr,
          float beta1, float one_minus_beta1, float beta2, float one_minus_beta2, float eps,
          float one_minus_acc_beta1, float one_minus_acc_beta2, float* new_value, float* new_m,
          float* new_v);

struct PoolShape {
  int n, ih, iw, c, oh, ow, kh, kw, sh, sw, pt, pl;
};
void max_pool(const PoolShape& s, const float* x, float* y);
void avg_pool(const PoolShape& s, const float* x, float* y);
/** dx of max pooling: each dy goes to the first maximum of its window (tfjs' convention). */
void max_pool_grad(const PoolShape& s, const float* dy, const float* x, float* dx);
void avg_pool_grad(const PoolShape& s, const float* dy, float* dx);

}  // namespace setrain
