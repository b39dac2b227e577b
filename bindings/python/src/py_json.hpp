// JSON text -> Python objects in one pass: the library's SAX walk (protocol layer,
// <ccbridge/detail/json_events.hpp>) calling the CPython API, with no intermediate DOM. Object keys
// repeat from message to message ("type", "content", ...), so they are interned once and reused,
// which also makes the dict lookups of the Python layer cheaper.
// Call with the GIL held.
#pragma once

#include <ccbridge/detail/json_events.hpp>

#include <Python.h>

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ccbridge::detail::python {

class PyJsonBuilder final : public JsonEvents {
public:
  ~PyJsonBuilder() { reset(); }

  /// A new reference, or nullptr (with no Python error set) if `text` is not valid JSON. `text` is
  /// followed by a NUL and has none before it (a std::string, Message::raw()).
  PyObject *parse(std::string_view text)
  {
    reset();
    if (!walk_json_terminated(text, *this) || !stack_.empty()) {
      reset();
      PyErr_Clear();
      return nullptr;
    }
    PyObject *out = root_;
    root_ = nullptr;
    return out;
  }

  // ---- JSON events ----
  bool null() override { return add(ref(Py_None)); }
  bool boolean(bool b) override { return add(ref(b ? Py_True : Py_False)); }
  // Numbers convert as Python's json does them: integers of any size exactly, other numbers to
  // the correctly rounded float (inf on overflow).
  bool integer(std::string_view digits) override
  {
    number_.assign(digits);
    return add(PyLong_FromString(number_.c_str(), nullptr, 10));
  }
  bool real(double d) override { return add(PyFloat_FromDouble(d)); }
  bool string(std::string_view s) override
  {
    return add(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
  }
  bool key(std::string_view k) override
  {
    key_ = intern(k);
    return key_ != nullptr;
  }
  bool start_object() override { return open(PyDict_New()); }
  bool end_object() override { return close(); }
  bool start_array() override { return open(PyList_New(0)); }
  bool end_array() override { return close(); }

private:
  static PyObject *ref(PyObject *o)
  {
    Py_INCREF(o);
    return o;
  }

  // Takes ownership of `v` and stores it in the open container (or as the root).
  bool add(PyObject *v)
  {
    if (!v) return false;
    if (stack_.empty()) {
      Py_XDECREF(root_);
      root_ = v;
      return true;
    }
    PyObject *top = stack_.back();
    int rc;
    if (PyList_CheckExact(top)) {
      rc = PyList_Append(top, v);
    } else {
      rc = PyDict_SetItem(top, key_, v);
      Py_CLEAR(key_);
    }
    Py_DECREF(v);
    return rc == 0;
  }

  bool open(PyObject *container)
  {
    if (!container) return false;
    Py_INCREF(container);  // one reference for the parent (or root), one while it is open
    if (!add(container)) {
      Py_DECREF(container);
      return false;
    }
    stack_.push_back(container);
    return true;
  }

  bool close()
  {
    Py_DECREF(stack_.back());
    stack_.pop_back();
    return true;
  }

  PyObject *intern(std::string_view k)
  {
    if (k.size() <= 48) {
      auto it = keys_.find(std::string(k));
      if (it != keys_.end()) {
        Py_INCREF(it->second);
        return it->second;
      }
    }
    PyObject *s = PyUnicode_DecodeUTF8(k.data(), static_cast<Py_ssize_t>(k.size()), "replace");
    if (!s) return nullptr;
    if (k.size() <= 48 && keys_.size() < 4096) {
      PyUnicode_InternInPlace(&s);
      Py_INCREF(s);  // the cache's reference, kept for the life of the process
      keys_.emplace(std::string(k), s);
    }
    return s;
  }

  void reset()
  {
    for (PyObject *o : stack_) Py_DECREF(o);
    stack_.clear();
    Py_CLEAR(key_);
    Py_CLEAR(root_);
  }

  std::vector<PyObject *> stack_;
  PyObject *key_ = nullptr;
  PyObject *root_ = nullptr;
  std::unordered_map<std::string, PyObject *> keys_;
  std::string number_;
};

}  // namespace ccbridge::detail::python
