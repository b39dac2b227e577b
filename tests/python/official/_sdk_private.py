"""Stand-ins for the official SDK's private helpers that its session tests import (run.py copies
this file beside them; rewrites.txt points those imports here). A helper with a public ccbridge
equivalent is that equivalent; any other name is a function that raises, and the tests that call
it are listed in expected.txt."""

import ccbridge
from ccbridge import session_store

# The fixtures name project directories with it: the CLI's project key of a directory.
_sanitize_path = ccbridge.project_key_for_directory
get_session_messages = ccbridge.get_session_messages
# SessionStore helpers ccbridge has under other names.
summary_entry_to_sdk_info = session_store._summary_info
_canonicalize_path = session_store._project_path
_store_implements = session_store._store_implements
MAX_PENDING_ENTRIES = session_store.MAX_PENDING_ENTRIES
MAX_PENDING_BYTES = session_store.MAX_PENDING_BYTES
_STORE_LIST_LOAD_CONCURRENCY = session_store._LIST_LOAD_CONCURRENCY
list_sessions_from_store = ccbridge.list_sessions_from_store


def __getattr__(name: str):
    def private(*args, **kwargs):
        raise NotImplementedError(f"{name} is a private helper of the official SDK, not part of ccbridge")

    return private
