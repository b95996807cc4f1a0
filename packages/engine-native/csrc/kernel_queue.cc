#include "kernel_queue.h"

#include <exception>
#include <stdexcept>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

namespace setrain {

void KernelQueue::start(Task init) {
  std::lock_guard<std::mutex> start_lock(lifecycle_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    accepting_ = true;
  }
  thread_ = std::thread([this, init = std::move(init)] {
    if (init) init();
    loop();
  });
}

void KernelQueue::stop() {
  std::lock_guard<std::mutex> stop_lock(lifecycle_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    accepting_ = false;
  }
  work_cv_.notify_one();
  thread_.join();
}

int64_t KernelQueue::submit(Task task) {
  int64_t ticket;
  bool was_empty;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!accepting_) {
      lock.unlock();
      run_inline(task);
      return 0;
    }
    ticket = ++submitted_;
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  // The thread sleeps only when the queue is empty; otherwise it will find this task itself.
  if (was_empty) work_cv_.notify_one();
  return ticket;
}

void KernelQueue::wait(int64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return completed_ >= ticket; });
  if (failed_) {
    failed_ = false;
    std::string message = std::move(error_);
    error_.clear();
    throw std::runtime_error(message);
  }
}

void KernelQueue::drain() {
  int64_t last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = submitted_;
  }
  wait(last);
}

void KernelQueue::finish() noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  const int64_t last = submitted_;
  done_cv_.wait(lock, [&] { return completed_ >= last; });
}

int64_t KernelQueue::completed() {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_;
}

void KernelQueue::run_inline(const Task& task) {
  const auto began = std::chrono::steady_clock::now();
  task();
  busy_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - began)
                  .count();
}

void KernelQueue::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and everything submitted has run
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    const bool skip = failed_;
    lock.unlock();
    std::string error;
    const auto began = std::chrono::steady_clock::now();
    if (!skip) {
      try {
        task();
      } catch (const dnnl::error& e) {
        error = std::string("oneDNN: ") + e.what();
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    task = nullptr;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - began)
                        .count();
    lock.lock();
    busy_ns_ += ns;
    if (!error.empty() && !failed_) {
      failed_ = true;
      error_ = std::move(error);
    }
    ++completed_;
    done_cv_.notify_all();
  }
}

}  // namespace setrain
