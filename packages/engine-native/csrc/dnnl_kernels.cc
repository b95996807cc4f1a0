// Convolutions and matmul on oneDNN, with the primitives cached per shape: a training step calls the
// same few dozen shapes every time, and building a primitive costs far more than running a small one.
#include <omp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <cstring>
#include <vector>

#include "common.h"

namespace setrain {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

int g_threads = 1;

// Never destroyed: at exit, static destructors run while the kernel queue's thread may still be
// running a kernel that uses them (addon.cc lets it finish first, but only from an exit handler
// registered before these first-use statics would register their destructors).
dnnl::engine& cpu_engine() {
  static dnnl::engine* eng = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *eng;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream* s = new dnnl::stream(cpu_engine());
  return *s;
}


// Weight layouts. tfjs keeps filters as HWIO; oneDNN's fast kernels want blocked layouts
// (Acdb32a, ABcd16a16b, ...). oneDNN's generic reorder from HWIO turned out to cost more than the
// convolutions themselves on small images, so the layouts are converted here with per-dimension
// offset tables: every single-level blocked layout is offset = T_o[o] + T_i[i] + T_h[h] + T_w[w].
struct WeightLayout {
  bool ok = false;
  std::vector<int64_t> o, i, h, w;
  // When o (or i) is the innermost blocked dimension, runs of this many consecutive o (or i) are
  // contiguous in the blocked layout and move as one copy; 0 otherwise.
  int64_t o_run = 0, i_run = 0;
};

WeightLayout weight_layout(const memory::desc& md) {
  WeightLayout out;
  const dnnl_memory_desc_t& d = md.data;
  if (d.ndims != 4 || d.format_kind != dnnl_blocked || d.offset0 != 0) return out;
  const auto& blk = d.format_desc.blocking;
  int64_t block[4] = {1, 1, 1, 1}, inner_stride[4] = {0, 0, 0, 0};
  int64_t stride = 1;
  for (int k = blk.inner_nblks - 1; k >= 0; --k) {
    const int dim = static_cast<int>(blk.inner_idxs[k]);
    if (block[dim] != 1) return out;  // two-level blocks of one dim: leave to oneDNN
    block[dim] = blk.inner_blks[k];
    inner_stride[dim] = stride;
    stride *= blk.inner_blks[k];
  }
  std::vector<int64_t>* tables[4] = {&out.o, &out.i, &out.h, &out.w};
  for (int dim = 0; dim < 4; ++dim) {
    const int64_t n = d.dims[dim];
    tables[dim]->resize(n);
    for (int64_t x = 0; x < n; ++x) {
      (*tables[dim])[x] = (x / block[dim]) * blk.strides[dim] + (x % block[dim]) * inner_stride[dim];
    }
  }
  if (inner_stride[0] == 1 && block[0] > 1) out.o_run = block[0];
  if (inner_stride[1] == 1 && block[1] > 1) out.i_run = block[1];
  out.ok = true;
  return out;
}

// HWIO (plain, O innermost) <-> a blocked layout described by `t`. The filters change every step,
// so this runs three times per convolution per step; the two common shapes of oneDNN's layouts get
// block copies: o innermost (runs of o are contiguous on both sides) and i innermost (a block of
// i rows is gathered per o, reading a few KB of HWIO rows that stay in L1).
template <bool kToBlocked>
void convert_weights(const float* src, float* dst, const WeightLayout& t) {
  const int64_t O = t.o.size(), I = t.i.size(), H = t.h.size(), W = t.w.size();
  const int64_t rows = H * W * I;
  const int nt = rows * O >= (1 << 17) ? threads() : 1;
  if (t.o_run > 0) {
    const int64_t run = t.o_run;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r % I, w = (r / I) % W, h = r / (I * W);
      const int64_t base = t.h[h] + t.w[w] + t.i[i];
      for (int64_t o0 = 0; o0 < O; o0 += run) {
        const int64_t n = std::min(run, O - o0);
        if (kToBlocked) {
          std::memcpy(dst + base + t.o[o0], src + r * O + o0, n * sizeof(float));
        } else {
          std::memcpy(dst + r * O + o0, src + base + t.o[o0], n * sizeof(float));
        }
      }
    }
    return;
  }
  if (t.i_run > 0) {
    const int64_t run = t.i_run, iblocks = (I + run - 1) / run;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t b = 0; b < H * W * iblocks; ++b) {
      const int64_t ib = b % iblocks, w = (b / iblocks) % W, h = b / (iblocks * W);
      const int64_t i0 = ib * run, n = std::min(run, I - i0);
      const int64_t blocked = t.h[h] + t.w[w] + t.i[i0];
      const int64_t plain = ((h * W + w) * I + i0) * O;
      for (int64_t o = 0; o < O; ++o) {
        const int64_t q = blocked + t.o[o];
        for (int64_t k = 0; k < n; ++k) {
          if (kToBlocked) {
            dst[q + k] = src[plain + k * O + o];
          } else {
            dst[plain + k * O + o] = src[q + k];
          }
        }
      }
    }
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t i = r % I, w = (r / I) % W, h = r / (I * W);
    const int64_t base = t.h[h] + t.w[w] + t.i[i];
    const int64_t* to = t.o.data();
    for (int64_t o = 0; o < O; ++o) {
      if (kToBlocked) {
        dst[base + to[o]] = src[r * O + o];
      } else {
        dst[r * O + o] = src[base + to[o]];
      }
    }
  }
}

void hwio_to_blocked(const float* src, float* dst, const WeightLayout& t) {
  convert_weights<true>(src, dst, t);
}

void blocked_to_hwio(const float* src, float* dst, const WeightLayout& t) {
  convert_weights<false>(src, dst, t);
}

// A weights buffer in the primitive's layout, filled from (or drained to) tfjs' HWIO array.
struct WeightBuffer {
  memory user, packed;
  std::unique_ptr<dnnl::reorder> to_packed, to_user;
  WeightLayout layout;
  bool plain = false;

  void init(const memory::desc& want, const memory::dims& dims, bool from_user) {
    auto& eng = cpu_engine();
    user = memory({dims, dt::f32, tag::hwio}, eng, nullptr);
    if (want == user.get_desc()) {
      plain = true;
      return;
    }
    packed = memory(want, eng);
    // Padded blocks must stay zero; only the real elements are ever written.
    std::memset(packed.get_data_handle(), 0, want.get_size());
    layout = weight_layout(want);
    if (!layout.ok) {
      if (from_user) {
        to_packed = std::make_unique<dnnl::reorder>(user, packed);
      } else {
        to_user = std::make_unique<dnnl::reorder>(packed, user);
      }
    }
  }

  // The memory the primitive reads, holding `w`.
  memory pack(const float* w) {
    user.set_data_handle(const_cast<float*>(w));
    if (plain) return user;
    if (layout.ok) {
      hwio_to_blocked(w, static_cast<float*>(packed.get_data_handle()), layout);
    } else {
      to_packed->execute(cpu_stream(), user, packed);
    }
    return packed;
  }

  // The memory the primitive writes; call unpack(dw) after it ran.
  memory target(float* dw) {
    user.set_data_handle(dw);
    return plain ? user : packed;
  }

  void unpack(float* dw) {
    if (plain) return;
    if (layout.ok) {
      blocked_to_hwio(static_cast<const float*>(packed.get_data_handle()), dw, layout);
    } else {
      user.set_data_handle(dw);
      to_user->execute(cpu_stream(), packed, user);
      cpu_stream().wait();
    }
  }
};

struct ConvFwd {
  dnnl::convolution_forward prim;
  memory src, bias, dst;
  WeightBuffer wei;
  bool has_bias = false;
};

struct ConvBwdData {
  dnnl::convolution_backward_data prim;
  memory diff_dst, diff_src;
  WeightBuffer wei;
};

struct ConvBwdWeights {
  dnnl::convolution_backward_weights prim;
  memory src, diff_dst;
  WeightBuffer diff_wei;
};

struct MatMul {
  dnnl::matmul prim;
  memory a, b, bias, c;
  bool has_bias = false;
};

std::map<std::vector<int>, std::unique_ptr<ConvFwd>> g_conv_fwd;
std::map<std::vector<int>, std::unique_ptr<ConvBwdData>> g_conv_bwd_data;
std::map<std::vector<int>, std::unique_ptr<ConvBwdWeights>> g_conv_bwd_weights;
std::map<std::vector<int>, std::unique_ptr<MatMul>> g_matmul;

std::vector<int> conv_key(const ConvShape& s) {
  return {s.n, s.ih, s.iw, s.ic, s.oh, s.ow, s.oc, s.kh, s.kw, s.sh,
          s.sw, s.dh, s.dw, s.pt, s.pl, s.pb, s.pr};
}

memory::dims src_dims(const ConvShape& s) { return {s.n, s.ic, s.ih, s.iw}; }
memory::dims dst_dims(const ConvShape& s) { return {s.n, s.oc, s.oh, s.ow}; }
memory::dims wei_dims(const ConvShape& s) { return {s.oc, s.ic, s.kh, s.kw}; }

dnnl::convolution_forward::primitive_desc fwd_pd(const ConvShape& s, bool bias, int act) {
  auto& eng = cpu_engine();
  memory::desc src_md(src_dims(s), dt::f32, tag::nhwc);
  memory::desc dst_md(dst_dims(s), dt::f32, tag::nhwc);
  memory::desc wei_md(wei_dims(s), dt::f32, tag::any);
  memory::desc bias_md({s.oc}, dt::f32, tag::x);
  memory::dims strides{s.sh, s.sw}, dil{s.dh - 1, s.dw - 1}, pl{s.pt, s.pl}, pr{s.pb, s.pr};
  dnnl::primitive_attr attr;
  if (act == kRelu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  if (bias) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                      dnnl::algorithm::convolution_direct, src_md, wei_md, bias_md,
                                      dst_md, strides, dil, pl, pr);
    return {d, attr, eng};
  }
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training,
                                    dnnl::algorithm::convolution_direct, src_md, wei_md, dst_md,
                                    strides, dil, pl, pr);
  return {d, attr, eng};
}

// Convolutions that are plain matrix products on NHWC data and HWIO filters: a 1x1 stride-1
// unpadded convolution is [n*h*w, ic] x [ic, oc]; on a 1x1 map with a 1x1 output (the last
// Inception blocks at 75x75) only the tap under the image, (pt, pl), touches it, and filter[pt][pl]
// is a contiguous [ic, oc] matrix. As matmuls they need no filter reorder into oneDNN's blocked
// layouts, which costs more than the arithmetic at these sizes.
/** Up to this many rows, a 1x1-map filter gradient is summed by hand (see conv_backward_weights). */
constexpr int64_t kSmallBatchRows = 64;

struct MatmulConv {
  int64_t rows = 0;  // n * oh * ow
  int64_t tap = -1;  // offset of the [ic, oc] filter slice; -1: not a matmul
};

MatmulConv as_matmul(const ConvShape& s) {
  MatmulConv m;
  const bool pointwise = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pt == 0 &&
                         s.pl == 0 && s.pb == 0 && s.pr == 0 && s.oh == s.ih && s.ow == s.iw;
  const bool single_tap = s.ih == 1 && s.iw == 1 && s.oh == 1 && s.ow == 1 && s.dh == 1 &&
                          s.dw == 1 && s.pt < s.kh && s.pl < s.kw;
  if (!pointwise && !single_tap) return m;
  m.rows = static_cast<int64_t>(s.n) * s.oh * s.ow;
  m.tap = (static_cast<int64_t>(s.pt) * s.kw + s.pl) * s.ic * s.oc;
  return m;
}

}  // namespace

int threads() { return g_threads; }

void set_threads(int n) {
  if (n < 1) n = 1;
  if (n != g_threads) clear_primitive_cache();  // oneDNN sizes its kernels for the thread count
  g_threads = n;
  omp_set_num_threads(n);
}

void clear_primitive_cache() {
  g_conv_fwd.clear();
  g_conv_bwd_data.clear();
  g_conv_bwd_weights.clear();
  g_matmul.clear();
}

int primitive_cache_size() {
  return static_cast<int>(g_conv_fwd.size() + g_conv_bwd_data.size() +
                          g_conv_bwd_weights.size() + g_matmul.size());
}

void conv_forward(const ConvShape& s, const float* x, const float* w, const float* bias, int act,
                  float* y) {
  if (const MatmulConv mm = as_matmul(s); mm.tap >= 0) {
    matmul(1, 1, static_cast<int>(mm.rows), s.ic, s.oc, false, false, x, w + mm.tap, bias, act, y);
    return;
  }
  auto key = conv_key(s);
  key.push_back(bias != nullptr);
  key.push_back(act);
  auto it = g_conv_fwd.find(key);
  if (it == g_conv_fwd.end()) {
    auto& eng = cpu_engine();
    auto e = std::make_unique<ConvFwd>();
    auto pd = fwd_pd(s, bias != nullptr, act);
    e->prim = dnnl::convolution_forward(pd);
    e->src = memory(pd.src_desc(), eng, nullptr);
    e->dst = memory(pd.dst_desc(), eng, nullptr);
    e->wei.init(pd.weights_desc(), wei_dims(s), true);
    e->has_bias = bias != nullptr;
    if (e->has_bias) e->bias = memory(pd.bias_desc(), eng, nullptr);
    it = g_conv_fwd.emplace(key, std::move(e)).first;
  }
  ConvFwd& e = *it->second;
  auto& st = cpu_stream();
  e.src.set_data_handle(const_cast<float*>(x));
  e.dst.set_data_handle(y);
  memory wei = e.wei.pack(w);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, e.src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, e.dst}};
  if (e.has_bias) {
    e.bias.set_data_handle(const_cast<float*>(bias));
    args.insert({DNNL_ARG_BIAS, e.bias});
  }
  e.prim.execute(st, args);
  st.wait();
}

void conv_backward_data(const ConvShape& s, const float* dy, const float* w, float* dx) {
  if (const MatmulConv mm = as_matmul(s); mm.tap >= 0) {
    // dx = dy x filter[tap]^T
    matmul(1, 1, static_cast<int>(mm.rows), s.oc, s.ic, false, true, dy, w + mm.tap, nullptr,
           kLinear, dx);
    return;
  }
  auto key = conv_key(s);
  auto it = g_conv_bwd_data.find(key);
  if (it == g_conv_bwd_data.end()) {
    auto& eng = cpu_engine();
    auto e = std::make_unique<ConvBwdData>();
    auto hint = fwd_pd(s, false, kLinear);
    memory::desc diff_src_md(src_dims(s), dt::f32, tag::nhwc);
    memory::desc diff_dst_md(dst_dims(s), dt::f32, tag::nhwc);
    memory::desc wei_md(wei_dims(s), dt::f32, tag::any);
    dnnl::convolution_backward_data::desc d(
        dnnl::algorithm::convolution_direct, diff_src_md, wei_md, diff_dst_md, {s.sh, s.sw},
        {s.dh - 1, s.dw - 1}, {s.pt, s.pl}, {s.pb, s.pr});
    dnnl::convolution_backward_data::primitive_desc pd(d, eng, hint);
    e->prim = dnnl::convolution_backward_data(pd);
    e->diff_dst = memory(pd.diff_dst_desc(), eng, nullptr);
    e->diff_src = memory(pd.diff_src_desc(), eng, nullptr);
    e->wei.init(pd.weights_desc(), wei_dims(s), true);
    it = g_conv_bwd_data.emplace(key, std::move(e)).first;
  }
  ConvBwdData& e = *it->second;
  auto& st = cpu_stream();
  e.diff_dst.set_data_handle(const_cast<float*>(dy));
  e.diff_src.set_data_handle(dx);
  memory wei = e.wei.pack(w);
  e.prim.execute(st, {{DNNL_ARG_DIFF_DST, e.diff_dst},
                      {DNNL_ARG_WEIGHTS, wei},
                      {DNNL_ARG_DIFF_SRC, e.diff_src}});
  st.wait();
}

void conv_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw) {
  if (const MatmulConv mm = as_matmul(s); mm.tap >= 0) {
    // dw[tap] = x^T x dy; every other tap never saw the image.
    const int64_t size = static_cast<int64_t>(s.kh) * s.kw * s.ic * s.oc;
    if (size != static_cast<int64_t>(s.ic) * s.oc) std::memset(dw, 0, size * sizeof(float));
    float* out = dw + mm.tap;
    if (mm.rows > kSmallBatchRows) {
      matmul(1, 1, s.ic, static_cast<int>(mm.rows), s.oc, true, false, x, dy, nullptr, kLinear,
             out);
      return;
    }
    // A batch of 1x1 maps: a sum of a few outer products, which oneDNN's transposed matmul runs
    // several times slower than this loop (measured 2.2 ms vs 0.3 ms for 8 x 2048 x 384).
    const int64_t ic = s.ic, oc = s.oc, rows = mm.rows;
    const int nt = ic * oc >= (1 << 17) ? threads() : 1;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < ic; ++i) {
      float* o = out + i * oc;
      for (int64_t j = 0; j < oc; ++j) o[j] = 0.f;
      for (int64_t r = 0; r < rows; ++r) {
        const float xi = x[r * ic + i];
        const float* d = dy + r * oc;
        for (int64_t j = 0; j < oc; ++j) o[j] += xi * d[j];
      }
    }
    return;
  }
  auto key = conv_key(s);
  auto it = g_conv_bwd_weights.find(key);
  if (it == g_conv_bwd_weights.end()) {
    auto& eng = cpu_engine();
    auto e = std::make_unique<ConvBwdWeights>();
    auto hint = fwd_pd(s, false, kLinear);
    memory::desc src_md(src_dims(s), dt::f32, tag::nhwc);
    memory::desc diff_dst_md(dst_dims(s), dt::f32, tag::nhwc);
    memory::desc wei_md(wei_dims(s), dt::f32, tag::any);
    dnnl::convolution_backward_weights::desc d(
        dnnl::algorithm::convolution_direct, src_md, wei_md, diff_dst_md, {s.sh, s.sw},
        {s.dh - 1, s.dw - 1}, {s.pt, s.pl}, {s.pb, s.pr});
    dnnl::convolution_backward_weights::primitive_desc pd(d, eng, hint);
    e->prim = dnnl::convolution_backward_weights(pd);
    e->src = memory(pd.src_desc(), eng, nullptr);
    e->diff_dst = memory(pd.diff_dst_desc(), eng, nullptr);
    e->diff_wei.init(pd.diff_weights_desc(), wei_dims(s), false);
    it = g_conv_bwd_weights.emplace(key, std::move(e)).first;
  }
  ConvBwdWeights& e = *it->second;
  auto& st = cpu_stream();
  e.src.set_data_handle(const_cast<float*>(x));
  e.diff_dst.set_data_handle(const_cast<float*>(dy));
  memory dwei = e.diff_wei.target(dw);
  e.prim.execute(st,
                 {{DNNL_ARG_SRC, e.src}, {DNNL_ARG_DIFF_DST, e.diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, dwei}});
  st.wait();
  e.diff_wei.unpack(dw);
}

void matmul(int batch_a, int batch_b, int m, int k, int n, bool trans_a, bool trans_b,
            const float* a, const float* b, const float* bias, int act, float* out) {
  std::vector<int> key{batch_a, batch_b, m, k, n, trans_a, trans_b, bias != nullptr, act};
  auto it = g_matmul.find(key);
  if (it == g_matmul.end()) {
    auto& eng = cpu_engine();
    auto e = std::make_unique<MatMul>();
    int batch = batch_a > batch_b ? batch_a : batch_b;
    memory::desc a_md({batch_a, m, k}, dt::f32,
                      trans_a ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1});
    memory::desc b_md({batch_b, k, n}, dt::f32,
                      trans_b ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1});
    memory::desc c_md({batch, m, n}, dt::f32, memory::dims{m * n, n, 1});
    memory::desc bias_md({1, 1, n}, dt::f32, memory::dims{n, n, 1});
    dnnl::primitive_attr attr;
    if (act == kRelu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    e->has_bias = bias != nullptr;
    auto d = e->has_bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                         : dnnl::matmul::desc(a_md, b_md, c_md);
    dnnl::matmul::primitive_desc pd(d, attr, eng);
    e->prim = dnnl::matmul(pd);
    e->a = memory(a_md, eng, nullptr);
    e->b = memory(b_md, eng, nullptr);
    e->c = memory(c_md, eng, nullptr);
    if (e->has_bias) e->bias = memory(bias_md, eng, nullptr);
    it = g_matmul.emplace(key, std::move(e)).first;
  }
  MatMul& e = *it->second;
  auto& st = cpu_stream();
  e.a.set_data_handle(const_cast<float*>(a));
  e.b.set_data_handle(const_cast<float*>(b));
  e.c.set_data_handle(out);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, e.a}, {DNNL_ARG_WEIGHTS, e.b}, {DNNL_ARG_DST, e.c}};
  if (e.has_bias) {
    e.bias.set_data_handle(const_cast<float*>(bias));
    args.insert({DNNL_ARG_BIAS, e.bias});
  }
  e.prim.execute(st, args);
  st.wait();
}

}  // namespace setrain
