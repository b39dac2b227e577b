"""Stand-ins for the official SDK's private helpers that its session tests import (run.py copies
this file beside them; rewrites.txt points those imports here). A helper with a public ccbridge
equivalent is that equivalent; any other name is a function that raises, and the tests that call
it are listed in expected.txt."""

import ccbridge
from ccbridge import _mirror, _session_resume, session_store

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
project_key_for_directory = ccbridge.project_key_for_directory
# The transcript mirror and the resume from a store (ccbridge._mirror, ccbridge._session_resume).
TranscriptMirrorBatcher = _mirror.TranscriptMirrorBatcher
file_path_to_session_key = _mirror.file_path_to_session_key
build_mirror_batcher = _session_resume.build_mirror_batcher
MaterializedResume = _session_resume.MaterializedResume
materialize_resume_session = _session_resume.materialize_resume_session
validate_session_store_options = _session_resume.validate_session_store_options
_get_projects_dir = _session_resume._get_projects_dir
_write_jsonl = _session_resume._write_jsonl
_with_timeout = _session_resume._store_call
_rmtree_with_retry = _session_resume._remove_tree


def __getattr__(name: str):
    def private(*args, **kwargs):
        raise NotImplementedError(f"{name} is a private helper of the official SDK, not part of ccbridge")

    return private
