"""Test helpers for code built on ccbridge, as the official SDK's ``claude_agent_sdk.testing``: a
conformance run for SessionStore adapters. Needs no test framework (plain ``assert``)."""

from .session_store_conformance import run_session_store_conformance

__all__ = ["run_session_store_conformance"]
