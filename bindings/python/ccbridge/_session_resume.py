"""A run with a SessionStore: its options checked, and its resume served from the store.

The CLI resumes only from a transcript file. With ``resume`` (or ``continue_conversation``) and a
``session_store``, the session is loaded from the store and written to a temporary config
directory laid out like ``~/.claude`` (the transcript, its subagents, and copies of the caller's
credentials and user settings so that the CLI can log in), and the CLI is started with
``CLAUDE_CONFIG_DIR`` pointing there; the directory is removed when the run is over, however it
ends. The official SDK's behaviour, names and error texts.
"""

from __future__ import annotations

import dataclasses
import errno
import getpass
import json
import logging
import ntpath
import os
import platform
import re
import shutil
import stat
import subprocess
import tempfile
import unicodedata
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, ContextManager, Dict, List, Mapping, Optional, Tuple

import anyio
import anyio.from_thread
from anyio.from_thread import BlockingPortal

from . import _ccbridge
from ._mirror import MirrorRun, OnError, TranscriptMirrorBatcher
from .session_store import (
    MAX_PENDING_BYTES, MAX_PENDING_ENTRIES, SessionKey, SessionStore, SessionStoreFlushMode, _store_implements,
)
from .sessions import project_key_for_directory
from .types import ClaudeAgentOptions

log = logging.getLogger("ccbridge")

# Where Claude Code keeps OAuth credentials on macOS when CLAUDE_CONFIG_DIR is unset.
_KEYCHAIN_SERVICE = "Claude Code-credentials"
# User settings that misbehave in a temporary config directory: plugins would be installed again
# into its empty plugin cache on every resume.
_STRIPPED_SETTINGS = ("enabledPlugins", "extraKnownMarketplaces")


# ---- options -------------------------------------------------------------------------------


def validate_session_store_options(options: ClaudeAgentOptions) -> None:
    """ValueError for a session_store combined with options it cannot serve; checked before the
    CLI starts."""
    store = options.session_store
    if store is None:
        return
    # An explicit resume wins over continue, and then the store is never asked for its sessions.
    if options.continue_conversation and options.resume is None and not _store_implements(store, "list_sessions"):
        raise ValueError("continue_conversation with session_store requires the store to implement list_sessions()")
    if options.enable_file_checkpointing:
        raise ValueError(
            "session_store cannot be combined with enable_file_checkpointing (checkpoints are local-disk only and "
            "would diverge from the mirrored transcript)")


def _get_projects_dir(env: Optional[Mapping[str, str]] = None) -> Path:
    """The CLI's projects directory: under CLAUDE_CONFIG_DIR from `env` (what the CLI is given),
    else from this process's environment, else ~/.claude."""
    config = (env or {}).get("CLAUDE_CONFIG_DIR") or os.environ.get("CLAUDE_CONFIG_DIR")
    base = config if config else str(Path.home() / ".claude")
    return Path(unicodedata.normalize("NFC", base)) / "projects"


# ---- resume ----------------------------------------------------------------------------------


@dataclass
class MaterializedResume:
    """A session written out for the CLI: ``config_dir`` (its CLAUDE_CONFIG_DIR), the session to
    resume, and ``cleanup()``, which removes the directory (call it once the CLI has exited)."""

    config_dir: Path
    resume_session_id: str
    cleanup: Callable[[], Awaitable[None]]


def apply_materialized_options(options: ClaudeAgentOptions, materialized: MaterializedResume) -> ClaudeAgentOptions:
    """A copy of `options` for the CLI: CLAUDE_CONFIG_DIR on the temporary directory, resume on
    the session found (continue_conversation is resolved by then)."""
    return dataclasses.replace(
        options, env={**options.env, "CLAUDE_CONFIG_DIR": str(materialized.config_dir)},
        resume=materialized.resume_session_id, continue_conversation=False)


def build_mirror_batcher(store: SessionStore, materialized: Optional[MaterializedResume],
                         env: Optional[Mapping[str, str]], on_error: OnError,
                         flush_mode: SessionStoreFlushMode = "batched") -> TranscriptMirrorBatcher:
    """The batcher of a run: transcript paths are read against the projects directory the CLI
    writes to (the temporary one of a resume from the store); "eager" flushes after every frame."""
    projects = str(materialized.config_dir / "projects") if materialized is not None else str(_get_projects_dir(env))
    eager = flush_mode == "eager"
    return TranscriptMirrorBatcher(
        store=store, projects_dir=projects, on_error=on_error,
        max_pending_entries=0 if eager else MAX_PENDING_ENTRIES, max_pending_bytes=0 if eager else MAX_PENDING_BYTES)


async def materialize_resume_session(options: ClaudeAgentOptions) -> Optional[MaterializedResume]:
    """The session to resume, loaded from ``options.session_store`` into a temporary config
    directory; None when there is nothing to load (no store, no resume or continue, a resume id
    that is not a UUID, a session the store does not have, or nothing to continue), and the CLI
    then starts as without a store. RuntimeError when a store call fails or takes longer than
    ``load_timeout_ms``; the directory is removed on any failure, cancellation included."""
    store = options.session_store
    if store is None or (options.resume is None and not options.continue_conversation):
        return None
    timeout = options.load_timeout_ms / 1000
    project_key = project_key_for_directory(options.cwd)
    if options.resume is not None:
        if not _ccbridge.is_session_uuid(options.resume):  # it becomes a file name below
            return None
        found = await _load(store, project_key, options.resume, timeout)
    else:
        found = await _latest_main_session(store, project_key, timeout)
    if found is None:
        return None
    session_id, entries = found

    base = Path(tempfile.mkdtemp(prefix="claude-resume-"))
    try:
        project_dir = base / "projects" / project_key
        project_dir.mkdir(parents=True, exist_ok=True)
        _write_jsonl(project_dir / f"{session_id}.jsonl", entries)
        _copy_auth_files(base, options.env)
        if _store_implements(store, "list_subkeys"):
            await _materialize_subkeys(store, project_dir, project_key, session_id, timeout)
    except BaseException:  # cancellation too: the directory may already hold credentials
        await _remove_tree(base)
        raise

    async def cleanup() -> None:
        await _remove_tree(base)

    return MaterializedResume(config_dir=base, resume_session_id=session_id, cleanup=cleanup)


async def _store_call(call: Awaitable[Any], timeout: float, what: str) -> Any:
    try:
        with anyio.fail_after(timeout):
            return await call
    except TimeoutError as e:
        raise RuntimeError(f"{what} timed out after {int(timeout * 1000)}ms during resume materialization") from e
    except Exception as e:  # noqa: BLE001 - the store is the user's code: its failure, with context
        raise RuntimeError(f"{what} failed during resume materialization: {e}") from e


async def _load(store: SessionStore, project_key: str, session_id: str, timeout: float) -> Optional[Tuple[str, List[Any]]]:
    key: SessionKey = {"project_key": project_key, "session_id": session_id}
    entries = await _store_call(store.load(key), timeout, f"SessionStore.load() for session {session_id}")
    return (session_id, entries) if entries else None


async def _latest_main_session(store: SessionStore, project_key: str, timeout: float) -> Optional[Tuple[str, List[Any]]]:
    """What continue_conversation resumes: the newest session that is not a subagent's sidechain
    (those are stored as sessions too, and are often the newest), as the CLI's --continue picks."""
    sessions = await _store_call(store.list_sessions(project_key), timeout, "SessionStore.list_sessions()")
    for row in sorted(sessions or [], key=lambda r: r["mtime"], reverse=True):
        session_id = row["session_id"]
        if not _ccbridge.is_session_uuid(session_id):
            continue
        found = await _load(store, project_key, session_id, timeout)
        if found is None:
            continue
        first = found[1][0]
        if isinstance(first, dict) and first.get("isSidechain") is True:
            continue
        return found
    return None


def _write_jsonl(path: Path, entries: List[Any]) -> None:
    """One compact JSON line per entry, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for entry in entries:
            f.write(json.dumps(entry, separators=(",", ":")) + "\n")
    with suppress(OSError):
        path.chmod(0o600)


async def _materialize_subkeys(store: SessionStore, project_dir: Path, project_key: str, session_id: str,
                               timeout: float) -> None:
    """The session's subagent transcripts (``<session>/<subpath>.jsonl``) and their
    ``.meta.json`` sidecars, from the store's ``agent_metadata`` entries (the last one counts)."""
    session_dir = project_dir / session_id
    subpaths = await _store_call(store.list_subkeys({"project_key": project_key, "session_id": session_id}),
                                 timeout, f"SessionStore.list_subkeys() for session {session_id}")
    for subpath in subpaths:
        if not _is_safe_subpath(subpath, session_dir):
            log.warning("[SessionStore] skipping unsafe subpath from list_subkeys: %r", subpath)
            continue
        key: SessionKey = {"project_key": project_key, "session_id": session_id, "subpath": subpath}
        entries = await _store_call(store.load(key), timeout,
                                    f"SessionStore.load() for session {session_id} subpath {subpath}")
        if not entries:
            continue
        metadata: Optional[Dict[str, Any]] = None
        transcript: List[Any] = []
        for e in entries:
            if isinstance(e, dict) and e.get("type") == "agent_metadata":
                metadata = e
            else:
                transcript.append(e)
        target = session_dir / subpath
        jsonl = target.with_name(target.name + ".jsonl")
        if transcript:
            _write_jsonl(jsonl, transcript)
        if metadata is not None:
            meta = jsonl.with_name(jsonl.name[: -len(".jsonl")] + ".meta.json")
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text(json.dumps({k: v for k, v in metadata.items() if k != "type"}), encoding="utf-8")
            with suppress(OSError):
                meta.chmod(0o600)


def _is_safe_subpath(subpath: str, session_dir: Path) -> bool:
    """A subpath from the store becomes a path: only a relative one that stays inside the
    session's directory (no empty, absolute, drive or UNC path, no "." or "..", no NUL)."""
    if not subpath or "\x00" in subpath or subpath.startswith(("/", "\\")) or Path(subpath).is_absolute():
        return False
    if ntpath.splitdrive(subpath)[0]:
        return False
    if any(part in (".", "..") for part in re.split(r"[\\/]", subpath)):
        return False
    target = session_dir / subpath
    try:
        target.with_name(target.name + ".jsonl").resolve().relative_to(session_dir.resolve())
    except (ValueError, OSError):
        return False
    return True


# ---- the caller's login and settings in the temporary directory -----------------------------


def _copy_auth_files(base: Path, env: Mapping[str, str]) -> None:
    """Credentials (without the refresh token), ``.claude.json`` and the user settings, from where
    the CLI would read them for the caller: CLAUDE_CONFIG_DIR (from `env`, else this process's
    environment), else ~/.claude (and ~/.claude.json)."""
    caller_dir = env.get("CLAUDE_CONFIG_DIR") or os.environ.get("CLAUDE_CONFIG_DIR")
    source = Path(caller_dir) if caller_dir else Path.home() / ".claude"
    raw = _read_if_present(source / ".credentials.json")
    credentials = raw.decode("utf-8") if raw is not None else None
    # On macOS the default login is in the Keychain, under a name that depends on the config
    # directory: the CLI in the temporary one would not find it, so it gets a file instead.
    env_auth = any(env.get(k) or os.environ.get(k) for k in ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"))
    if not caller_dir and not env_auth:
        keychain = _read_keychain_credentials()
        if keychain is not None:
            credentials = keychain
    _write_redacted_credentials(credentials, base / ".credentials.json")
    _copy_if_present(Path(caller_dir) / ".claude.json" if caller_dir else Path.home() / ".claude.json",
                     base / ".claude.json")
    # User settings may hold the login too (apiKeyHelper).
    for name in ("settings.json", "cowork_settings.json"):
        _copy_if_present(source / name, base / name, _strip_settings_for_resume)


def _strip_settings_for_resume(content: bytes) -> bytes:
    """Settings without the plugin declarations and without an env.CLAUDE_CONFIG_DIR (which
    would send the CLI elsewhere); anything that is not a JSON object, or would not serialize
    back to valid JSON, unchanged."""
    try:
        parsed = json.loads(content.decode("utf-8-sig"))  # the CLI accepts a BOM
    except ValueError:  # UnicodeDecodeError too
        return content
    if not isinstance(parsed, dict):
        return content
    changed = False
    for key in _STRIPPED_SETTINGS:
        if key in parsed:
            del parsed[key]
            changed = True
    env = parsed.get("env")
    if isinstance(env, dict) and "CLAUDE_CONFIG_DIR" in env:
        del env["CLAUDE_CONFIG_DIR"]
        changed = True
    if not changed:
        return content
    try:
        return json.dumps(parsed, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # 1e999 read as inf has no JSON form
        return content


def _write_redacted_credentials(credentials: Optional[str], dst: Path) -> None:
    """The credentials without claudeAiOauth.refreshToken: a CLI that refreshed with it would use
    up the caller's token and keep the new one where the caller never looks."""
    if credentials is None:
        return
    out = credentials
    try:
        data = json.loads(credentials)
        oauth = data.get("claudeAiOauth") if isinstance(data, dict) else None
        if isinstance(oauth, dict) and "refreshToken" in oauth:
            del oauth["refreshToken"]
            out = json.dumps(data)
    except ValueError:
        pass  # written as it is: the CLI will not read it either
    dst.write_text(out, encoding="utf-8")
    with suppress(OSError):
        dst.chmod(0o600)


def _read_if_present(src: Path) -> Optional[bytes]:
    """A regular file's bytes; None if it is missing, and (logged) if it is anything else or
    cannot be read: these copies are a convenience, and a FIFO must not block the resume."""
    try:
        if not stat.S_ISREG(src.stat().st_mode):
            raise OSError(f"{src} is not a regular file")
        return src.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        log.warning("[SessionStore] resume: skipping %s (%s)", src, e)
        return None


def _copy_if_present(src: Path, dst: Path, transform: Optional[Callable[[bytes], bytes]] = None) -> None:
    content = _read_if_present(src)
    if content is None:
        return
    try:
        dst.write_bytes(transform(content) if transform else content)
        with suppress(OSError):
            dst.chmod(0o600)
    except OSError as e:
        with suppress(OSError):
            dst.unlink()  # no half-written copy for the CLI to misread
        log.warning("[SessionStore] resume: skipping %s (%s)", src, e)


def _read_keychain_credentials() -> Optional[str]:
    """The OAuth credentials of the macOS Keychain's default entry; None elsewhere or on error."""
    if platform.system() != "Darwin":
        return None
    try:
        user = os.environ.get("USER") or getpass.getuser()
        found = subprocess.run(["security", "find-generic-password", "-a", user, "-w", "-s", _KEYCHAIN_SERVICE],
                               capture_output=True, text=True, timeout=5, check=False)
    except Exception:  # noqa: BLE001 - no Keychain: no credentials from it
        return None
    out = found.stdout.strip()
    return out if found.returncode == 0 and out else None


# Errors of a file that is held open for a moment (an indexer, a virus scanner).
_TRANSIENT = frozenset({errno.EBUSY, errno.EMFILE, errno.ENFILE, errno.ENOTEMPTY, errno.EPERM, errno.EACCES})


async def _remove_tree(path: Path, *, retries: int = 4, delay: float = 0.1) -> None:
    """Removes the directory; a transient failure is tried again a few times before the last,
    error-ignoring attempt. Never raises (but a cancellation, after a last attempt)."""
    if not path.exists():
        return
    for _ in range(retries):
        try:
            shutil.rmtree(path)
            return
        except OSError as e:
            if e.errno not in _TRANSIENT and not isinstance(e, PermissionError):
                break
        try:
            await anyio.sleep(delay)
        except anyio.get_cancelled_exc_class():
            shutil.rmtree(path, ignore_errors=True)
            raise
    shutil.rmtree(path, ignore_errors=True)


# ---- a run with a store ----------------------------------------------------------------------


class StoreRun:
    """What a session_store adds to a run, on the caller's event loop: the options checked (at
    once), the resume written out before the CLI starts, the mirror while it runs, and at the end
    the last flush and the temporary directory removed."""

    def __init__(self, options: ClaudeAgentOptions) -> None:
        validate_session_store_options(options)
        self.options = options
        self.materialized: Optional[MaterializedResume] = None
        self.mirror: Optional[MirrorRun] = None

    async def start(self) -> ClaudeAgentOptions:
        """The options to start the CLI with."""
        store = self.options.session_store
        if store is None:
            return self.options
        self.materialized = m = await materialize_resume_session(self.options)
        options = apply_materialized_options(self.options, m) if m is not None else self.options
        self.mirror = MirrorRun(lambda on_error: build_mirror_batcher(
            store, m, options.env, on_error, self.options.session_store_flush))
        return options

    async def end(self, source: Any) -> None:
        """Once the CLI has exited (`source`: the engine's run, None if it never started); never
        interrupted by a cancellation."""
        with anyio.CancelScope(shield=True):
            mirror, self.mirror = self.mirror, None
            materialized, self.materialized = self.materialized, None
            try:
                if mirror is not None:
                    await mirror.close(source)
            finally:
                if materialized is not None:
                    await materialized.cleanup()


class BlockingMirror:
    """A MirrorRun used from a thread that is not its event loop's (a synchronous run)."""

    def __init__(self, mirror: MirrorRun, portal: BlockingPortal) -> None:
        self._mirror = mirror
        self._portal = portal

    def take(self, source: Any) -> None:
        self._portal.call(self._mirror.take, source)

    def flush(self, source: Any) -> None:
        self._portal.call(self._mirror.flush, source)

    def pop_errors(self) -> List[Dict[str, Any]]:
        return self._mirror.pop_errors()


class BlockingStoreRun:
    """StoreRun for a synchronous run: the store's coroutines run on an event loop of the run's
    own, in a thread (an anyio blocking portal), there only when there is a store."""

    def __init__(self, options: ClaudeAgentOptions) -> None:
        self._run = StoreRun(options)
        self._portal_cm: Optional[ContextManager[BlockingPortal]] = None
        self._portal: Optional[BlockingPortal] = None
        self.mirror: Optional[BlockingMirror] = None

    def start(self) -> ClaudeAgentOptions:
        if self._run.options.session_store is None:
            return self._run.options
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = portal = self._portal_cm.__enter__()
        try:
            options: ClaudeAgentOptions = portal.call(self._run.start)
        except BaseException:
            self._stop()
            raise
        assert self._run.mirror is not None
        self.mirror = BlockingMirror(self._run.mirror, portal)
        return options

    def end(self, source: Any) -> None:
        if self._portal is None:
            return
        try:
            self._portal.call(self._run.end, source)
        finally:
            self._stop()

    def _stop(self) -> None:
        cm, self._portal_cm = self._portal_cm, None
        self._portal = self.mirror = None
        if cm is not None:
            cm.__exit__(None, None, None)
