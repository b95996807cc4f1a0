#!/usr/bin/env python3
"""Splits a `perf record` of one native-engine training run by thread and by what the samples ran.

    OMP_NUM_THREADS=2 perf record -D 6000 -F 1999 -o /tmp/native.perf -- node --perf-basic-prof \
        --conditions=source --import tsx scripts/bench-engine.ts --child native --size 75 --batch 8 \
        --steps 40 --warmup 2 --classes 10 --threads 2
    perf script -i /tmp/native.perf -F tid,ip,sym,dso | python3 scripts/bench/perf-thread-breakdown.py

(-D 6000 skips module loading and model building; apt-get install linux-perf.) Samples are
classified by the object they fall in: libgomp (OpenMP threads waiting at a barrier or spinning for
work), the addon's own loops, libdnnl and its JIT kernels (code in anonymous memory that
--perf-basic-prof's map does not name), JavaScript (JS: and builtin symbols from that map), the V8
runtime, libc and the kernel. Prints one JSON object: percent of all samples per thread and class;
'main' is the thread that runs JavaScript, 'second' the other busiest one (OpenMP's worker at
2 threads), 'others' the rest (V8's garbage-collector and compiler helpers).
"""
import collections
import json
import sys


def classify(rest: str) -> str:
    if 'libgomp' in rest:
        return 'openmp_wait'
    if 'setrain_native' in rest:
        return 'addon_loops'
    if 'libdnnl' in rest:
        return 'onednn_library'
    if 'JS:' in rest or 'Builtins_' in rest or 'Builtin:' in rest:
        return 'javascript'
    if 'perf-' in rest:
        return 'onednn_jit_kernels'
    if 'libc' in rest:
        return 'libc'
    if 'kernel' in rest:
        return 'os_kernel'
    if 'node' in rest:
        return 'v8_runtime_gc'
    return 'other'


def main() -> None:
    by_class = collections.Counter()
    by_thread = collections.Counter()
    for line in sys.stdin:
        parts = line.strip().split(None, 1)
        if len(parts) < 2:
            continue
        tid, rest = parts
        by_thread[tid] += 1
        by_class[(tid, classify(rest))] += 1
    total = sum(by_thread.values())
    if total == 0:
        sys.exit('no samples on stdin: pipe `perf script -F tid,ip,sym,dso` into this script')
    ranked = [tid for tid, _ in by_thread.most_common()]
    # The main thread is the one running JavaScript; the other of the two busiest is OpenMP's
    # worker at 2 threads (a V8 helper at 1 thread).
    main_tid = max(ranked[:2], key=lambda t: by_class[(t, 'javascript')])
    second = [t for t in ranked[:2] if t != main_tid]
    names = {main_tid: 'main', **{t: 'second' for t in second}}
    out = {'samples': total, 'threads': {}}
    for tid in [main_tid, *second]:
        classes = {k: round(100 * n / total, 1) for (t, k), n in by_class.most_common() if t == tid}
        out['threads'][names[tid]] = {'percent': round(100 * by_thread[tid] / total, 1), **classes}
    others = sum(by_thread[t] for t in ranked[2:])
    out['threads']['others'] = {'percent': round(100 * others / total, 1)}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
