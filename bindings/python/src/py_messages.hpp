// Typed messages made in C++ for the hot type (assistant: one per content block, the bulk of a
// run), with exactly the rules of ccbridge/_parse.py, which stays the reference: the instances are
// the package's own dataclasses, made as `object.__new__(cls)` plus one attribute per field (what
// the dataclass __init__ does, without running Python code per message). Anything irregular (a
// missing field, a content that is not a list, a block that is not a dict) is left to _parse.py,
// which raises the SDK's errors. Call with the GIL held.
#pragma once

#include <Python.h>

#include <initializer_list>
#include <utility>

namespace ccbridge::detail::python {

class MessageClasses {
public:
  /// The classes (types.py), set once at import by the package; until then nothing is typed here.
  bool set(PyObject *assistant, PyObject *text, PyObject *thinking, PyObject *tool_use, PyObject *server_tool_use,
           PyObject *server_tool_result)
  {
    PyObject *in[] = {assistant, text, thinking, tool_use, server_tool_use, server_tool_result};
    for (PyObject *c : in)
      if (!PyType_Check(c)) return false;
    PyObject **out[] = {&assistant_, &text_, &thinking_, &tool_use_, &server_tool_use_, &server_tool_result_};
    for (int i = 0; i < 6; ++i) {
      Py_INCREF(in[i]);
      Py_XSETREF(*out[i], in[i]);
    }
    return true;
  }

  /// An AssistantMessage for the dict `d` of an assistant line (a new reference), or nullptr
  /// (no Python error set) when _parse.py must handle it.
  PyObject *assistant(PyObject *d)
  {
    if (!assistant_ || !PyDict_CheckExact(d)) return nullptr;
    PyObject *m = PyDict_GetItemWithError(d, k_.message);
    if (!m || !PyDict_CheckExact(m)) return fail();
    PyObject *content = PyDict_GetItemWithError(m, k_.content);
    PyObject *model = PyDict_GetItemWithError(m, k_.model);
    if (!content || !model || !PyList_CheckExact(content)) return fail();
    PyObject *blocks = this->blocks(content);
    if (!blocks) return fail();
    PyObject *out = make(assistant_, {{k_.content, blocks},
                                      {k_.model, model},
                                      {k_.parent_tool_use_id, get(d, k_.parent_tool_use_id)},
                                      {k_.error, get(d, k_.error)},
                                      {k_.usage, get(m, k_.usage)},
                                      {k_.message_id, get(m, k_.id)},
                                      {k_.stop_reason, get(m, k_.stop_reason)},
                                      {k_.session_id, get(d, k_.session_id)},
                                      {k_.uuid, get(d, k_.uuid)},
                                      {k_.user_message_uuid, get(d, k_.user_message_uuid)},
                                      {k_.user_message_uuids, get(d, k_.user_message_uuids)}});
    Py_DECREF(blocks);
    return out ? out : fail();
  }

private:
  struct Keys {
    PyObject *message = name("message"), *content = name("content"), *model = name("model"), *type = name("type"),
             *text = name("text"), *id = name("id"), *name_ = name("name"), *input = name("input"),
             *thinking = name("thinking"), *signature = name("signature"), *tool_use_id = name("tool_use_id"),
             *usage = name("usage"), *stop_reason = name("stop_reason"), *parent_tool_use_id = name("parent_tool_use_id"),
             *error = name("error"), *session_id = name("session_id"), *uuid = name("uuid"),
             *user_message_uuid = name("user_message_uuid"), *user_message_uuids = name("user_message_uuids"),
             *message_id = name("message_id"), *tool_use = name("tool_use"), *server_tool_use = name("server_tool_use"),
             *advisor_tool_result = name("advisor_tool_result");

    static PyObject *name(const char *s) { return PyUnicode_InternFromString(s); }  // kept for the process
  };

  static PyObject *fail()
  {
    PyErr_Clear();
    return nullptr;
  }

  // d.get(key): a borrowed reference, None when absent.
  static PyObject *get(PyObject *d, PyObject *key)
  {
    PyObject *v = PyDict_GetItemWithError(d, key);
    return v ? v : Py_None;
  }

  // object.__new__(cls), then each field as the dataclass __init__ sets it. New reference or nullptr.
  static PyObject *make(PyObject *cls, std::initializer_list<std::pair<PyObject *, PyObject *>> fields)
  {
    static PyObject *no_args = PyTuple_New(0);
    PyObject *o = PyBaseObject_Type.tp_new(reinterpret_cast<PyTypeObject *>(cls), no_args, nullptr);
    if (!o) return nullptr;
    for (const auto &[key, value] : fields) {
      if (PyObject_SetAttr(o, key, value) != 0) {
        Py_DECREF(o);
        return nullptr;
      }
    }
    return o;
  }

  // A required field of block `b`: borrowed, or nullptr (then the block goes to _parse.py).
  static PyObject *need(PyObject *b, PyObject *key) { return PyDict_GetItemWithError(b, key); }

  // _parse._blocks(raw, d, assistant=True): a new list, or nullptr.
  PyObject *blocks(PyObject *raw)
  {
    Py_ssize_t n = PyList_GET_SIZE(raw);
    PyObject *out = PyList_New(0);
    if (!out) return nullptr;
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject *b = PyList_GET_ITEM(raw, i);
      PyObject *t = PyDict_CheckExact(b) ? need(b, k_.type) : nullptr;
      if (!t || !PyUnicode_CheckExact(t)) {
        Py_DECREF(out);
        return nullptr;
      }
      PyObject *block = nullptr;
      bool known = true;
      if (PyUnicode_Compare(t, k_.text) == 0) {
        PyObject *text = need(b, k_.text);
        block = text ? make(text_, {{k_.text, text}}) : nullptr;
      } else if (PyUnicode_Compare(t, k_.tool_use) == 0 || PyUnicode_Compare(t, k_.server_tool_use) == 0) {
        PyObject *id = need(b, k_.id), *nm = need(b, k_.name_), *in = need(b, k_.input);
        PyObject *cls = PyUnicode_Compare(t, k_.tool_use) == 0 ? tool_use_ : server_tool_use_;
        block = id && nm && in ? make(cls, {{k_.id, id}, {k_.name_, nm}, {k_.input, in}}) : nullptr;
      } else if (PyUnicode_Compare(t, k_.thinking) == 0) {
        PyObject *th = need(b, k_.thinking), *sig = need(b, k_.signature);
        block = th && sig ? make(thinking_, {{k_.thinking, th}, {k_.signature, sig}}) : nullptr;
      } else if (PyUnicode_Compare(t, k_.advisor_tool_result) == 0) {
        PyObject *id = need(b, k_.tool_use_id), *c = need(b, k_.content);
        block = id && c ? make(server_tool_result_, {{k_.tool_use_id, id}, {k_.content, c}}) : nullptr;
      } else {
        known = false;  // other block types are skipped, as _parse.py does
      }
      if (!known) continue;
      if (!block || PyList_Append(out, block) != 0) {
        Py_XDECREF(block);
        Py_DECREF(out);
        return nullptr;
      }
      Py_DECREF(block);
    }
    return out;
  }

  Keys k_;
  PyObject *assistant_ = nullptr, *text_ = nullptr, *thinking_ = nullptr, *tool_use_ = nullptr,
           *server_tool_use_ = nullptr, *server_tool_result_ = nullptr;
};

}  // namespace ccbridge::detail::python
