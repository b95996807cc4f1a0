// N-API entry points. Every kernel takes the tensors' own Float32Arrays (no copies) and writes into an
// output array allocated by the caller; shapes travel as plain numbers or Int32Arrays.
//
// Kernels run on the calling thread, or, after setAsync(true), on the kernel queue's thread: the
// arguments are read and checked here, the kernel is queued, and its ticket is returned. The caller
// keeps the arrays alive until completed() passes the ticket, and calls wait(ticket) before it reads
// an array a queued kernel touches (src/kernel-queue.ts does both).
#include <node_api.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"
#include "kernel_queue.h"
#include "loops.h"

namespace {

using namespace setrain;

struct ArgError : std::exception {
  std::string msg;
  explicit ArgError(std::string m) : msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};

class Args {
 public:
  Args(napi_env env, napi_callback_info info) : env_(env) {
    size_t argc = 20;
    argv_.resize(argc);
    napi_get_cb_info(env, info, &argc, argv_.data(), nullptr, nullptr);
    argv_.resize(argc);
  }

  size_t size() const { return argv_.size(); }

  bool is_null(size_t i) const {
    if (i >= argv_.size()) return true;
    napi_valuetype t;
    napi_typeof(env_, argv_[i], &t);
    return t == napi_null || t == napi_undefined;
  }

  float* f32(size_t i) const {
    if (is_null(i)) return nullptr;
    napi_typedarray_type type;
    size_t length;
    void* data;
    if (napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_float32_array) {
      throw ArgError("argument " + std::to_string(i) + " must be a Float32Array");
    }
    return static_cast<float*>(data);
  }

  std::vector<int64_t> ints(size_t i) const {
    napi_typedarray_type type;
    size_t length;
    void* data;
    if (i >= argv_.size() ||
        napi_get_typedarray_info(env_, argv_[i], &type, &length, &data, nullptr, nullptr) != napi_ok ||
        type != napi_int32_array) {
      throw ArgError("argument " + std::to_string(i) + " must be an Int32Array");
    }
    const int32_t* p = static_cast<const int32_t*>(data);
    return std::vector<int64_t>(p, p + length);
  }

  double num(size_t i) const {
    double v;
    if (i >= argv_.size() || napi_get_value_double(env_, argv_[i], &v) != napi_ok) {
      throw ArgError("argument " + std::to_string(i) + " must be a number");
    }
    return v;
  }

  int integer(size_t i) const { return static_cast<int>(num(i)); }

 private:
  napi_env env_;
  std::vector<napi_value> argv_;
};

napi_value undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

// Runs a kernel body and turns C++ and oneDNN exceptions into JS errors.
template <typename F>
napi_value guarded(napi_env env, napi_callback_info info, F body) {
  try {
    Args args(env, info);
    return body(env, args);
  } catch (const dnnl::error& e) {
    napi_throw_error(env, "ERR_ONEDNN", (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, "ERR_NATIVE_KERNEL", e.what());
  }
  return nullptr;
}

// Never destroyed: at process.exit() static destructors run while the queue's thread may still be
// parked, and joining it then (its OpenMP pool torn down after libgomp's own) crashed the process.
// The env cleanup hook stops it where Node tears an environment down properly.
KernelQueue& g_queue = *new KernelQueue();

napi_value number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

// Reads and checks a kernel's arguments now (`prepare` returns the kernel), then queues the kernel
// or runs it here. Returns its ticket when queued, 0 when it already ran.
template <typename F>
napi_value kernel(napi_env env, napi_callback_info info, F prepare) {
  return guarded(env, info, [&](napi_env e, Args& a) {
    return number(e, static_cast<double>(g_queue.submit(prepare(a))));
  });
}

ConvShape conv_shape(const std::vector<int64_t>& p) {
  if (p.size() != 17) throw ArgError("conv shape must have 17 entries");
  return ConvShape{(int)p[0],  (int)p[1],  (int)p[2],  (int)p[3],  (int)p[4],  (int)p[5],
                   (int)p[6],  (int)p[7],  (int)p[8],  (int)p[9],  (int)p[10], (int)p[11],
                   (int)p[12], (int)p[13], (int)p[14], (int)p[15], (int)p[16]};
}

PoolShape pool_shape(const std::vector<int64_t>& p) {
  if (p.size() != 12) throw ArgError("pool shape must have 12 entries");
  return PoolShape{(int)p[0], (int)p[1], (int)p[2],  (int)p[3],  (int)p[4],  (int)p[5],
                   (int)p[6], (int)p[7], (int)p[8],  (int)p[9],  (int)p[10], (int)p[11]};
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    const int n = a.integer(0);
    // OpenMP's thread count is per thread, and the primitive cache belongs to the queue's thread:
    // set them there when it runs (submit runs it here otherwise).
    g_queue.wait(g_queue.submit([n] { set_threads(n); }));
    return undefined(e);
  });
}

napi_value GetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
    napi_value v;
    napi_create_int32(e, threads(), &v);
    return v;
  });
}

napi_value CacheSize(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
    g_queue.drain();  // the queue's thread uses the cache while kernels run
    napi_value v;
    napi_create_int32(e, primitive_cache_size(), &v);
    return v;
  });
}

napi_value ClearCache(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
    g_queue.drain();
    clear_primitive_cache();
    return undefined(e);
  });
}

napi_value Version(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
    const dnnl_version_t* v = dnnl_version();
    std::string s = std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                    std::to_string(v->patch) +
                    (v->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : "");
    napi_value out;
    napi_create_string_utf8(e, s.c_str(), s.size(), &out);
    return out;
  });
}

// conv2d(x, w, bias|null, y, shape[17], activation)
napi_value Conv2d(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto s = conv_shape(a.ints(4));
    auto x = a.f32(0), w = a.f32(1), bias = a.f32(2), y = a.f32(3);
    int act = a.integer(5);
    return [=] { conv_forward(s, x, w, bias, act, y); };
  });
}

// conv2dBackpropInput(dy, w, dx, shape[17])
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto s = conv_shape(a.ints(3));
    auto dy = a.f32(0), w = a.f32(1), dx = a.f32(2);
    return [=] { conv_backward_data(s, dy, w, dx); };
  });
}

// conv2dBackpropFilter(x, dy, dw, shape[17])
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto s = conv_shape(a.ints(3));
    auto x = a.f32(0), dy = a.f32(1), dw = a.f32(2);
    return [=] { conv_backward_weights(s, x, dy, dw); };
  });
}

// matmul(a, b, bias|null, out, batchA, batchB, m, k, n, transA, transB, activation)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    int batch_a = a.integer(4), batch_b = a.integer(5), m = a.integer(6), k = a.integer(7),
        n = a.integer(8), act = a.integer(11);
    bool trans_a = a.integer(9) != 0, trans_b = a.integer(10) != 0;
    auto x = a.f32(0), y = a.f32(1), bias = a.f32(2), out = a.f32(3);
    return [=] { matmul(batch_a, batch_b, m, k, n, trans_a, trans_b, x, y, bias, act, out); };
  });
}

// binary(op, a, aStrides, b, bStrides, outShape, out)
napi_value Binary(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto as = a.ints(2), bs = a.ints(4), shape = a.ints(5);
    if (as.size() != shape.size() || bs.size() != shape.size() || shape.size() > 6)
      throw ArgError("binary: strides and shape must have the same rank <= 6");
    int op = a.integer(0);
    auto x = a.f32(1), y = a.f32(3), out = a.f32(6);
    return [=] {
      binary(op, x, as.data(), y, bs.data(), shape.data(), static_cast<int>(shape.size()), out);
    };
  });
}

// unary(op, x, out, alpha, size)
napi_value Unary(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    int op = a.integer(0);
    auto x = a.f32(1), out = a.f32(2);
    auto alpha = static_cast<float>(a.num(3));
    auto n = static_cast<int64_t>(a.num(4));
    return [=] { unary(op, x, n, alpha, out); };
  });
}

// reduce(op, x, out, outer, r, inner)
napi_value Reduce(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    int op = a.integer(0);
    auto x = a.f32(1), out = a.f32(2);
    auto outer = static_cast<int64_t>(a.num(3)), r = static_cast<int64_t>(a.num(4)),
         inner = static_cast<int64_t>(a.num(5));
    return [=] { reduce(op, x, outer, r, inner, out); };
  });
}

// batchNorm(x, mean, variance, offset|null, scale|null, epsilon, y, rows, channels)
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto x = a.f32(0), mean = a.f32(1), var = a.f32(2), offset = a.f32(3), scale = a.f32(4),
         y = a.f32(6);
    auto eps = static_cast<float>(a.num(5));
    auto rows = static_cast<int64_t>(a.num(7)), c = static_cast<int64_t>(a.num(8));
    return [=] { batch_norm(x, mean, var, offset, scale, eps, rows, c, y); };
  });
}

// batchNormGrad(x, mean, variance, scale|null, dy, epsilon, rows, channels, dx, dmean, dvar,
//               dscale|null, doffset|null)
napi_value BatchNormGrad(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto x = a.f32(0), mean = a.f32(1), var = a.f32(2), scale = a.f32(3), dy = a.f32(4),
         dx = a.f32(8), dmean = a.f32(9), dvar = a.f32(10), dscale = a.f32(11),
         doffset = a.f32(12);
    auto eps = static_cast<float>(a.num(5));
    auto rows = static_cast<int64_t>(a.num(6)), c = static_cast<int64_t>(a.num(7));
    return [=] {
      batch_norm_grad(x, mean, var, scale, dy, eps, rows, c, dx, dmean, dvar, dscale, doffset);
    };
  });
}

// batchNormTrain(x, offset|null, epsilon, rows, channels, y, mean, variance
//                [, oldMean, oldVariance, rate, newMean, newVariance])
napi_value BatchNormTrain(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto x = a.f32(0), offset = a.f32(1), y = a.f32(5), mean = a.f32(6), var = a.f32(7);
    auto eps = static_cast<float>(a.num(2));
    auto rows = static_cast<int64_t>(a.num(3)), c = static_cast<int64_t>(a.num(4));
    if (a.is_null(8)) return [=] { batch_norm_train(x, offset, eps, rows, c, y, mean, var); };
    auto old_mean = a.f32(8), old_var = a.f32(9), new_mean = a.f32(11), new_var = a.f32(12);
    auto rate = static_cast<float>(a.num(10));
    return [=] {
      batch_norm_train(x, offset, eps, rows, c, y, mean, var);
      batch_norm_moving_averages(old_mean, old_var, mean, var, rows, c, rate, new_mean, new_var);
    };
  });
}

// batchNormTrainGrad(x, mean, variance, dy, epsilon, rows, channels, dx, doffset)
napi_value BatchNormTrainGrad(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto x = a.f32(0), mean = a.f32(1), var = a.f32(2), dy = a.f32(3), dx = a.f32(7),
         doffset = a.f32(8);
    auto eps = static_cast<float>(a.num(4));
    auto rows = static_cast<int64_t>(a.num(5)), c = static_cast<int64_t>(a.num(6));
    return [=] { batch_norm_train_grad(x, mean, var, dy, eps, rows, c, dx, doffset); };
  });
}

// copy2d(src, srcOffset, srcPitch, dst, dstOffset, dstPitch, rows, cols)
napi_value Copy2d(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    const float* src = a.f32(0) + static_cast<int64_t>(a.num(1));
    float* dst = a.f32(3) + static_cast<int64_t>(a.num(4));
    auto src_pitch = static_cast<int64_t>(a.num(2)), dst_pitch = static_cast<int64_t>(a.num(5)),
         rows = static_cast<int64_t>(a.num(6)), cols = static_cast<int64_t>(a.num(7));
    return [=] { copy2d(src, src_pitch, dst, dst_pitch, rows, cols); };
  });
}

// pool(kind, x, y, shape[12]) with kind 0 = max, 1 = avg
napi_value Pool(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto s = pool_shape(a.ints(3));
    auto x = a.f32(1), y = a.f32(2);
    if (a.integer(0) == 0) return [=] { max_pool(s, x, y); };
    return [=] { avg_pool(s, x, y); };
  });
}

// poolGrad(kind, dy, x|null, dx, shape[12])
napi_value PoolGrad(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto s = pool_shape(a.ints(4));
    auto dy = a.f32(1), x = a.f32(2), dx = a.f32(3);
    if (a.integer(0) == 0) return [=] { max_pool_grad(s, dy, x, dx); };
    return [=] { avg_pool_grad(s, dy, dx); };
  });
}

// adam(value, m, v, g, newValue, newM, newV, n, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2,
//      epsilon, oneMinusAccBeta1, oneMinusAccBeta2)
napi_value Adam(napi_env env, napi_callback_info info) {
  return kernel(env, info, [](Args& a) -> KernelQueue::Task {
    auto f = [&](size_t i) { return static_cast<float>(a.num(i)); };
    auto value = a.f32(0), m = a.f32(1), v = a.f32(2), g = a.f32(3), new_value = a.f32(4),
         new_m = a.f32(5), new_v = a.f32(6);
    auto n = static_cast<int64_t>(a.num(7));
    float lr = f(8), b1 = f(9), omb1 = f(10), b2 = f(11), omb2 = f(12), eps = f(13),
          omab1 = f(14), omab2 = f(15);
    return [=] {
      adam(value, m, v, g, n, lr, b1, omb1, b2, omb2, eps, omab1, omab2, new_value, new_m, new_v);
    };
  });
}

// setAsync(on): on = kernels run on the queue's thread from now on; off = the queue runs what it
// holds, stops, and kernels run on the calling thread again.
napi_value SetAsync(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    if (a.integer(0) != 0) {
      // OpenMP's thread count is per thread: the queue's thread takes the one set so far.
      const int n = threads();
      g_queue.start([n] { set_threads(n); });
    } else {
      g_queue.stop();
    }
    return undefined(e);
  });
}

// wait(ticket): returns once that kernel has run; throws the error of a queued kernel that failed.
napi_value Wait(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    g_queue.wait(static_cast<int64_t>(a.num(0)));
    return undefined(e);
  });
}

// busyMs(): milliseconds the queue's thread has spent running kernels (for benchmarks).
napi_value BusyMs(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
    return number(e, static_cast<double>(g_queue.busy_ns()) / 1e6);
  });
}

// completed(): the last ticket that has run.
napi_value Completed(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
    return number(e, static_cast<double>(g_queue.completed()));
  });
}

napi_value Init(napi_env env, napi_value exports) {
  struct Entry {
    const char* name;
    napi_callback fn;
  };
  const Entry entries[] = {
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"cacheSize", CacheSize},
      {"clearCache", ClearCache},
      {"version", Version},
      {"conv2d", Conv2d},
      {"conv2dBackpropInput", Conv2dBackpropInput},
      {"conv2dBackpropFilter", Conv2dBackpropFilter},
      {"matmul", MatMul},
      {"binary", Binary},
      {"unary", Unary},
      {"reduce", Reduce},
      {"batchNorm", BatchNorm},
      {"batchNormGrad", BatchNormGrad},
      {"batchNormTrain", BatchNormTrain},
      {"batchNormTrainGrad", BatchNormTrainGrad},
      {"copy2d", Copy2d},
      {"pool", Pool},
      {"poolGrad", PoolGrad},
      {"adam", Adam},
      {"setAsync", SetAsync},
      {"wait", Wait},
      {"completed", Completed},
      {"busyMs", BusyMs},
  };
  for (const auto& en : entries) {
    napi_value fn;
    napi_create_function(env, en.name, NAPI_AUTO_LENGTH, en.fn, nullptr, &fn);
    napi_set_named_property(env, exports, en.name, fn);
  }
  setrain::set_threads(1);
  // The queue's thread must not outlive the environment (worker thread or process) that runs it.
  napi_add_env_cleanup_hook(
      env, [](void*) { g_queue.stop(); }, nullptr);
  // process.exit() skips that hook, and static destructors (the primitive caches) would run under
  // kernels still queued: let those finish first. Registered after the caches were constructed,
  // so it runs before their destructors.
  static bool exit_drain_registered = false;
  if (!exit_drain_registered) {
    exit_drain_registered = true;
    std::atexit([] { g_queue.finish(); });
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
