{
  "targets": [
    {
      "target_name": "setrain_native",
      "sources": ["csrc/addon.cc", "csrc/dnnl_kernels.cc", "csrc/loops.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-frtti", "-fopenmp", "-ffp-contract=off"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
