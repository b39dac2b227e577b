// See line_pool.hpp.
#include "protocol/line_pool.hpp"

namespace ccbridge::detail {

namespace {
template <class Node> void delete_list(Node *n) noexcept
{
  while (n) {
    Node *next = n->next;
    ::operator delete(n);
    n = next;
  }
}
}  // namespace

LinePool::~LinePool() { close(); }  // every block is back by now (each holds the pool alive)

void LinePool::close() noexcept
{
  closed_.store(true);
  for (std::size_t k = 0; k < kClasses; ++k) {
    delete_list(free_[k]);
    free_[k] = nullptr;
    delete_list(returned_[k].exchange(nullptr, std::memory_order_acquire));
  }
  cached_bytes_ = 0;
}

std::size_t LinePool::class_of(std::size_t bytes) noexcept
{
  std::size_t k = 0;
  while (k < kClasses && class_bytes(k) < bytes) ++k;
  return k;  // kClasses: too big to recycle
}

// Takes the blocks given back since the last refill; keeps at most kCacheBytes of them.
void LinePool::refill(std::size_t k) noexcept
{
  Node *n = returned_[k].exchange(nullptr, std::memory_order_acquire);
  while (n) {
    Node *next = n->next;
    if (cached_bytes_ + class_bytes(k) <= kCacheBytes) {
      n->next = free_[k];
      free_[k] = n;
      cached_bytes_ += class_bytes(k);
    } else {
      ::operator delete(n);
    }
    n = next;
  }
}

void *LinePool::allocate(std::size_t bytes)
{
  std::size_t k = class_of(bytes);
  if (k == kClasses) return ::operator new(bytes);
  if (!free_[k]) refill(k);
  if (Node *n = free_[k]) {
    free_[k] = n->next;
    cached_bytes_ -= class_bytes(k);
    return n;
  }
  return ::operator new(class_bytes(k));
}

void LinePool::release(void *block, std::size_t bytes) noexcept
{
  std::size_t k = class_of(bytes);
  if (k == kClasses) {
    ::operator delete(block);
    return;
  }
  if (closed_.load()) {  // (a block given back while close() runs waits for the destructor)
    ::operator delete(block);
    return;
  }
  Node *n = ::new (block) Node{returned_[k].load(std::memory_order_relaxed)};
  while (!returned_[k].compare_exchange_weak(n->next, n, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

}  // namespace ccbridge::detail
