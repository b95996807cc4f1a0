// Shared declarations of the setrain native kernels (oneDNN convolutions and matmul, OpenMP loops).
#pragma once
#include <cstdint>
#include <vector>

namespace setrain {

/** Threads used by oneDNN primitives and by the elementwise loops. */
int threads();
void set_threads(int n);

/** NHWC input, HWIO filter, NHWC output; the padding and output sizes come from tfjs' conv info. */
struct ConvShape {
  int n, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

enum Activation { kLinear = 0, kRelu = 1 };

void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, int act,
                  float* y);
void conv_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx);
void conv_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw);

/** Row-major batched matmul: out[b] = op(a[b]) x op(b[b]) (+ bias over columns, + activation). */
void matmul(int batch_a, int batch_b, int m, int k, int n, bool trans_a, bool trans_b,
            const float* a, const float* b, const float* bias, int act, float* out);

void clear_primitive_cache();
int primitive_cache_size();

}  // namespace setrain
