{
  "variables": {
    "setrain_march%": "x86-64"
  },
  "targets": [
    {
      "target_name": "setrain_native",
      "sources": ["csrc/addon.cc", "csrc/dnnl_kernels.cc", "csrc/kernel_queue.cc", "csrc/loops.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-march=<(setrain_march)",
        "-mtune=generic",
        "-fexceptions",
        "-frtti",
        "-fopenmp",
        "-fno-math-errno",
        "-ffp-contract=off"
      ],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl"]
    }
  ]
}
