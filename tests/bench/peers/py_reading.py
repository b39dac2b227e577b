"""What the Python benchmark harnesses read of each message, the peer of ccb_bench's Reading (--read):
the type of every message; of an assistant message its text (the text blocks joined), session id and
usage; of a result its session id and usage. The totals go into each harness's JSON line, where
tests/bench/run.sh compares them with ccbridge's. Used by py_query.py, py_session.py and
../py_ccbridge_query.py (ccbridge's Python package has the same message classes).
"""


class Reading:
    def __init__(self, assistant_cls, result_cls, text_cls):
        self._assistant, self._result, self._text = assistant_cls, result_cls, text_cls
        self.messages = self.assistant = self.results = self.text_chars = self.output_tokens = self.session_ids = 0

    def __call__(self, m):
        self.messages += 1
        if isinstance(m, self._assistant):
            self.assistant += 1
            self.text_chars += len("".join(b.text for b in m.content if isinstance(b, self._text)))
            self._take(m)
        elif isinstance(m, self._result):
            self.results += 1
            self._take(m)

    def _take(self, m):
        if m.session_id:
            self.session_ids += 1
        if m.usage:
            self.output_tokens += m.usage.get("output_tokens", 0)

    def fields(self):
        return {"read": "equal", "messages": self.messages, "assistant": self.assistant, "results": self.results,
                "text_chars": self.text_chars, "output_tokens": self.output_tokens, "session_ids": self.session_ids}
