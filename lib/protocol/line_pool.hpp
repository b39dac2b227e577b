// Memory for the messages a stream makes: one block per message (its shared_ptr control block, the
// Message::Impl and the line's bytes), recycled instead of freed.
//
// Why: messages are made on the run's strand (an I/O thread) and dropped on the application's
// thread. glibc's free() of a block from another thread's arena takes that arena's lock, so at
// hundreds of thousands of messages a second the two threads wake each other through that lock
// (a futex) on nearly every message. Here a dropped message's block goes onto a lock-free list;
// the strand takes the list whole when it needs blocks and reuses them.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>

namespace ccbridge::detail {

class LinePool {
public:
  /// Blocks of 512 << k bytes for k < kClasses are recycled; bigger ones come from operator new.
  static constexpr std::size_t kClasses = 8;
  static constexpr std::size_t kSmallest = 512;
  /// Bytes of free blocks the pool keeps at most; beyond it returned blocks are freed, on the
  /// strand (the thread that made them: no lock contention), so a small cache is enough and an
  /// idle run holds little (a gateway has hundreds of them).
  static constexpr std::size_t kCacheBytes = std::size_t(256) << 10;

  LinePool() = default;
  LinePool(const LinePool &) = delete;
  LinePool &operator=(const LinePool &) = delete;
  ~LinePool();

  /// A block of at least `bytes` bytes. Only ever called by one thread at a time (the strand).
  void *allocate(std::size_t bytes);
  /// Gives back a block from allocate(bytes) with the same `bytes`. Any thread, lock-free.
  void release(void *block, std::size_t bytes) noexcept;
  /// No more allocate(): frees the cached blocks, and blocks given back later are freed at once
  /// (messages that outlive their stream keep no memory beyond their own).
  void close() noexcept;
  /// Bytes of free blocks held for allocate() (not counting those given back since its last refill).
  std::size_t cached_bytes() const noexcept { return cached_bytes_; }

private:
  struct Node {
    Node *next;
  };
  static std::size_t class_of(std::size_t bytes) noexcept;
  static std::size_t class_bytes(std::size_t k) noexcept { return kSmallest << k; }
  void refill(std::size_t k) noexcept;

  std::atomic<Node *> returned_[kClasses] = {};  // pushed by any thread, taken whole by allocate
  Node *free_[kClasses] = {};                    // allocate's own
  std::size_t cached_bytes_ = 0;                 // in free_
  std::atomic<bool> closed_{false};
};

/// An allocator for std::allocate_shared that puts `extra` bytes after the object (and its control
/// block) in the same LinePool block, and tells the caller where they are through `*tail`.
template <class T> struct LinePoolAllocator {
  using value_type = T;

  LinePoolAllocator(std::shared_ptr<LinePool> p, std::size_t extra_bytes, char **tail_out) noexcept
      : pool(std::move(p)), extra(extra_bytes), tail(tail_out)
  {
  }
  template <class U>
  LinePoolAllocator(const LinePoolAllocator<U> &o) noexcept : pool(o.pool), extra(o.extra), tail(o.tail)
  {
  }

  T *allocate(std::size_t n)
  {
    char *block = static_cast<char *>(pool->allocate(n * sizeof(T) + extra));
    if (tail) *tail = block + n * sizeof(T);
    return reinterpret_cast<T *>(block);
  }
  void deallocate(T *p, std::size_t n) noexcept { pool->release(p, n * sizeof(T) + extra); }

  template <class U> bool operator==(const LinePoolAllocator<U> &o) const noexcept { return pool == o.pool; }
  template <class U> bool operator!=(const LinePoolAllocator<U> &o) const noexcept { return pool != o.pool; }

  // The pool lives as long as any block of it: each control block keeps a copy of this.
  std::shared_ptr<LinePool> pool;
  std::size_t extra;
  char **tail;  // written by allocate() only, which allocate_shared calls before it returns
};

}  // namespace ccbridge::detail
