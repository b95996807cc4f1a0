// N-API entry points. Every kernel takes the tensors' own Float32Arrays (no copies) and writes into an
// output array allocated by the caller; shapes travel as plain numbers or Int32Arrays.
#include <node_api.h>

#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"
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
    set_threads(a.integer(0));
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
    napi_value v;
    napi_create_int32(e, primitive_cache_size(), &v);
    return v;
  });
}

napi_value ClearCache(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args&) {
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
  return guarded(env, info, [](napi_env e, Args& a) {
    conv_forward(conv_shape(a.ints(4)), a.f32(0), a.f32(1), a.f32(2), a.integer(5), a.f32(3));
    return undefined(e);
  });
}

// conv2dBackpropInput(dy, w, dx, shape[17])
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    conv_backward_data(conv_shape(a.ints(3)), a.f32(0), a.f32(1), a.f32(2));
    return undefined(e);
  });
}

// conv2dBackpropFilter(x, dy, dw, shape[17])
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    conv_backward_weights(conv_shape(a.ints(3)), a.f32(0), a.f32(1), a.f32(2));
    return undefined(e);
  });
}

// matmul(a, b, bias|null, out, batchA, batchB, m, k, n, transA, transB, activation)
napi_value MatMul(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    matmul(a.integer(4), a.integer(5), a.integer(6), a.integer(7), a.integer(8), a.integer(9) != 0,
           a.integer(10) != 0, a.f32(0), a.f32(1), a.f32(2), a.integer(11), a.f32(3));
    return undefined(e);
  });
}

// binary(op, a, aStrides, b, bStrides, outShape, out)
napi_value Binary(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    auto as = a.ints(2), bs = a.ints(4), shape = a.ints(5);
    if (as.size() != shape.size() || bs.size() != shape.size() || shape.size() > 6)
      throw ArgError("binary: strides and shape must have the same rank <= 6");
    binary(a.integer(0), a.f32(1), as.data(), a.f32(3), bs.data(), shape.data(),
           static_cast<int>(shape.size()), a.f32(6));
    return undefined(e);
  });
}

// unary(op, x, out, alpha)
napi_value Unary(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    unary(a.integer(0), a.f32(1), static_cast<int64_t>(a.num(4)), static_cast<float>(a.num(3)),
          a.f32(2));
    return undefined(e);
  });
}

// reduce(op, x, out, outer, r, inner)
napi_value Reduce(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    reduce(a.integer(0), a.f32(1), static_cast<int64_t>(a.num(3)), static_cast<int64_t>(a.num(4)),
           static_cast<int64_t>(a.num(5)), a.f32(2));
    return undefined(e);
  });
}

// batchNorm(x, mean, variance, offset|null, scale|null, epsilon, y, rows, channels)
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    batch_norm(a.f32(0), a.f32(1), a.f32(2), a.f32(3), a.f32(4), static_cast<float>(a.num(5)),
               static_cast<int64_t>(a.num(7)), static_cast<int64_t>(a.num(8)), a.f32(6));
    return undefined(e);
  });
}

// batchNormGrad(x, mean, variance, scale|null, dy, epsilon, rows, channels, dx, dmean, dvar,
//               dscale|null, doffset|null)
napi_value BatchNormGrad(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    batch_norm_grad(a.f32(0), a.f32(1), a.f32(2), a.f32(3), a.f32(4), static_cast<float>(a.num(5)),
                    static_cast<int64_t>(a.num(6)), static_cast<int64_t>(a.num(7)), a.f32(8),
                    a.f32(9), a.f32(10), a.f32(11), a.f32(12));
    return undefined(e);
  });
}

// batchNormTrain(x, offset|null, epsilon, rows, channels, y, mean, variance)
napi_value BatchNormTrain(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    batch_norm_train(a.f32(0), a.f32(1), static_cast<float>(a.num(2)),
                     static_cast<int64_t>(a.num(3)), static_cast<int64_t>(a.num(4)), a.f32(5),
                     a.f32(6), a.f32(7));
    return undefined(e);
  });
}

// batchNormTrainGrad(x, mean, variance, dy, epsilon, rows, channels, dx, doffset)
napi_value BatchNormTrainGrad(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    batch_norm_train_grad(a.f32(0), a.f32(1), a.f32(2), a.f32(3), static_cast<float>(a.num(4)),
                          static_cast<int64_t>(a.num(5)), static_cast<int64_t>(a.num(6)), a.f32(7),
                          a.f32(8));
    return undefined(e);
  });
}

// copy2d(src, srcOffset, srcPitch, dst, dstOffset, dstPitch, rows, cols)
napi_value Copy2d(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    copy2d(a.f32(0) + static_cast<int64_t>(a.num(1)), static_cast<int64_t>(a.num(2)),
           a.f32(3) + static_cast<int64_t>(a.num(4)), static_cast<int64_t>(a.num(5)),
           static_cast<int64_t>(a.num(6)), static_cast<int64_t>(a.num(7)));
    return undefined(e);
  });
}

// pool(kind, x, y, shape[12]) with kind 0 = max, 1 = avg
napi_value Pool(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    auto s = pool_shape(a.ints(3));
    if (a.integer(0) == 0) {
      max_pool(s, a.f32(1), a.f32(2));
    } else {
      avg_pool(s, a.f32(1), a.f32(2));
    }
    return undefined(e);
  });
}

// poolGrad(kind, dy, x|null, dx, shape[12])
napi_value PoolGrad(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    auto s = pool_shape(a.ints(4));
    if (a.integer(0) == 0) {
      max_pool_grad(s, a.f32(1), a.f32(2), a.f32(3));
    } else {
      avg_pool_grad(s, a.f32(1), a.f32(3));
    }
    return undefined(e);
  });
}

// adam(value, m, v, g, newValue, newM, newV, n, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2,
//      epsilon, oneMinusAccBeta1, oneMinusAccBeta2)
napi_value Adam(napi_env env, napi_callback_info info) {
  return guarded(env, info, [](napi_env e, Args& a) {
    auto f = [&](size_t i) { return static_cast<float>(a.num(i)); };
    adam(a.f32(0), a.f32(1), a.f32(2), a.f32(3), static_cast<int64_t>(a.num(7)), f(8), f(9), f(10),
         f(11), f(12), f(13), f(14), f(15), a.f32(4), a.f32(5), a.f32(6));
    return undefined(e);
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
  };
  for (const auto& en : entries) {
    napi_value fn;
    napi_create_function(env, en.name, NAPI_AUTO_LENGTH, en.fn, nullptr, &fn);
    napi_set_named_property(env, exports, en.name, fn);
  }
  setrain::set_threads(1);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
