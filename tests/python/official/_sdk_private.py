"""Stand-ins for the official SDK's private helpers that its session tests import (run.py copies
this file beside them; rewrites.txt points those imports here). A helper with a public ccbridge
equivalent is that equivalent; any other name is a function that raises, and the tests that call
it are listed in expected.txt."""

import ccbridge

# The fixtures name project directories with it: the CLI's project key of a directory.
_sanitize_path = ccbridge.project_key_for_directory
get_session_messages = ccbridge.get_session_messages


def __getattr__(name: str):
    def private(*args, **kwargs):
        raise NotImplementedError(f"{name} is a private helper of the official SDK, not part of ccbridge")

    return private
