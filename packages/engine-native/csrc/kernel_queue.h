// A FIFO of kernel calls run by one background thread, so the JavaScript thread can build the next
// ops of a training step (tfjs engine, tape, layers: about a third of a 75x75 step) while the
// kernels of the previous ones run. Kernels run in submission order, so a kernel always sees the
// writes of every kernel submitted before it, and an output array reused for a later kernel is
// written only after the earlier kernels that read it finished.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace setrain {

class KernelQueue {
 public:
  using Task = std::function<void()>;

  KernelQueue() = default;
  KernelQueue(const KernelQueue&) = delete;
  KernelQueue& operator=(const KernelQueue&) = delete;
  ~KernelQueue() { stop(); }

  /** Starts the background thread (no-op when running). `init` runs on it first. */
  void start(Task init);
  /** Runs what was submitted, then joins the thread. Later kernels run on the caller's thread. */
  void stop();

  /** Queues a kernel and returns its ticket (1, 2, ...), or, when the queue is not accepting
   * (never started, or stopped by another thread), runs it here and returns 0. */
  int64_t submit(Task task);
  /** Runs a kernel on the calling thread, counting its time like the queue's. */
  void run_inline(const Task& task);
  /** Blocks until the kernel with this ticket (and so every earlier one) has run. Throws the first
   * error a kernel raised since the last wait, once; kernels after a failed one are skipped. */
  void wait(int64_t ticket);
  /** Blocks until everything submitted has run (and throws like wait). */
  void drain();
  /** Blocks until everything submitted has run; never throws (for exit). */
  void finish() noexcept;
  /** Tickets up to this one have run. */
  int64_t completed();
  /** Nanoseconds spent running kernels, on the queue's thread or (run_inline) the caller's. */
  int64_t busy_ns() const { return busy_ns_.load(std::memory_order_relaxed); }

 private:
  void loop();

  std::mutex lifecycle_mu_;  // start and stop, which may come from different threads
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<Task> tasks_;
  int64_t submitted_ = 0;
  int64_t completed_ = 0;
  std::atomic<int64_t> busy_ns_{0};
  bool failed_ = false;
  std::string error_;
  bool stopping_ = false;
  bool accepting_ = false;
  std::thread thread_;
};

}  // namespace setrain
