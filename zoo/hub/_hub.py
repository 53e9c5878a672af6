"""Push to and pull from a Hugging Face Hub repo through ``huggingface_hub``.

Authentication is whatever ``huggingface_hub`` finds: ``HF_TOKEN`` or the token saved by
``hf auth login``. zoo never reads, prints or stores the token itself.
"""

from __future__ import annotations

import glob
import re
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from huggingface_hub import (CommitOperationAdd, CommitOperationDelete, HfApi, get_cached_repo_tree,
                             snapshot_download, try_to_load_from_cache)
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import (CachedRepoTreeNotFoundError, GatedRepoError, HfHubHTTPError,
                                    LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
                                    RevisionResolutionError)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.hf_api import RepoFile

from zoo_registry import EntryNotFoundError, ZooError

from .._atomic import write_text_atomic
from ._files import RemoteFile

try:  # huggingface_hub 2.x speaks HTTP through httpx2
    from httpx2 import TransportError
except ImportError:  # pragma: no cover - older clients raise OSError subclasses
    TransportError = OSError  # type: ignore[misc,assignment]

_DEFAULT_REVISION = "main"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_KEEP_ON_PUSH = (".gitattributes",)


def offline_mode() -> bool:
    """Return True when HF_HUB_OFFLINE=1 turns off network access for huggingface_hub, and so for zoo."""
    return hub_constants.is_offline_mode()


def _endpoint() -> str:
    """Return the Hub URL without any user name or password that HF_ENDPOINT may carry."""
    url = urlsplit(hub_constants.ENDPOINT)
    host = url.hostname or ""
    netloc = f"{host}:{url.port}" if url.port else host
    return urlunsplit((url.scheme, netloc, url.path, url.query, url.fragment))


def _hub_error(error: Exception, repo_id: str, action: str) -> ZooError:
    """Turn a ``huggingface_hub`` or transport error into one line for the user."""
    if isinstance(error, (RepositoryNotFoundError, GatedRepoError)):
        return EntryNotFoundError(
            f"repo {repo_id} was not found on {_endpoint()}; check the name, and for a private repo log in with "
            f"'hf auth login' or set HF_TOKEN")
    if isinstance(error, RevisionNotFoundError):
        return EntryNotFoundError(f"repo {repo_id} on {_endpoint()} has no such revision; check the branch, tag or "
                                  f"commit after '@'")
    if isinstance(error, HfHubHTTPError):
        status = error.response.status_code if error.response is not None else "?"
        hint = (" Log in with 'hf auth login' or set HF_TOKEN to a token with write access."
                if status in (401, 403) else "")
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return ZooError(f"{action} {repo_id} failed: the Hub at {_endpoint()} returned HTTP {status} ({first_line}).{hint}")
    if isinstance(error, (TransportError, LocalEntryNotFoundError)):
        return ZooError(f"{action} {repo_id} failed: cannot reach the Hub at {_endpoint()} ({type(error).__name__}: "
                        f"{error}). Check the network, or pull from the Hugging Face cache with HF_HUB_OFFLINE=1")
    return ZooError(f"{action} {repo_id} failed: {type(error).__name__}: {error}")


def _remote_file(file: RepoFile) -> RemoteFile:
    if file.lfs is not None:
        return RemoteFile(file.path, size=file.lfs.size, sha256=file.lfs.sha256, git_oid=file.blob_id)
    return RemoteFile(file.path, size=file.size, git_oid=file.blob_id)


class HubSource:
    """A Hub repo at one revision, read online through the API or offline from the cache."""

    def __init__(self, repo_id: str, revision: str | None):
        self.repo_id = repo_id
        self.revision = revision
        self.offline = offline_mode()
        self.api = HfApi()
        self.commit: str | None = None

    @property
    def record(self) -> dict[str, str | None]:
        return {"kind": "hub", "source": self.repo_id, "endpoint": _endpoint(), "revision": self.revision}

    def session(self) -> AbstractContextManager[None]:
        return nullcontext()

    def list_files(self) -> tuple[str, list[RemoteFile]]:
        """Resolve the revision to a commit and list its files; write nothing."""
        if self.offline:
            return self._list_cached()
        try:
            info = self.api.repo_info(self.repo_id, revision=self.revision)
            if not _COMMIT.fullmatch(info.sha or ""):
                raise ZooError(f"the Hub at {_endpoint()} returned {info.sha!r} as the commit of {self.repo_id}, "
                               f"which is not a commit id; check HF_ENDPOINT")
            self.commit = info.sha
            tree = list(self.api.list_repo_tree(self.repo_id, revision=self.commit, recursive=True))
        except (HfHubHTTPError, TransportError) as error:
            raise _hub_error(error, self.repo_id, "pulling") from None
        return self.commit, [_remote_file(f) for f in tree if isinstance(f, RepoFile)]

    def _offline_error(self, missing: str) -> ZooError:
        target = f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id
        return ZooError(
            f"cannot pull {target} offline (HF_HUB_OFFLINE=1 is set): the Hugging Face cache "
            f"{hub_constants.HF_HUB_CACHE} is missing {missing}. Run 'zoo pull {target}' once with network access")

    def _list_cached(self) -> tuple[str, list[RemoteFile]]:
        revision = self.revision or _DEFAULT_REVISION
        try:
            self.commit = self.api.resolve_revision(self.repo_id, revision=revision, local_files_only=True).resolved
        except RevisionResolutionError:
            raise self._offline_error(f"the revision {revision!r} of {self.repo_id} and all its files") from None
        try:
            tree = get_cached_repo_tree(self.repo_id, revision=self.commit)
        except CachedRepoTreeNotFoundError:
            raise self._offline_error(f"the file list of commit {self.commit} and all its files") from None
        return self.commit, [RemoteFile(f.path, size=f.size, git_oid=f.blob_id) for f in tree]

    def fetch(self, names: list[str]) -> Path:
        """Download ``names`` at the resolved commit into the cache (or find them there offline); return the folder."""
        assert self.commit is not None, "list_files() resolves the commit first"
        if self.offline:
            missing = [name for name in names
                       if not isinstance(try_to_load_from_cache(self.repo_id, name, revision=self.commit), str)]
            if missing:
                raise self._offline_error(f"{len(missing)} file(s) of commit {self.commit}: {', '.join(missing)}")
        try:
            folder = snapshot_download(self.repo_id, revision=self.commit, local_files_only=self.offline,
                                       allow_patterns=[glob.escape(name) for name in names])
        except (OSError, TransportError) as error:
            raise _hub_error(error, self.repo_id, "pulling") from None
        if not self.offline:
            self._write_ref()
        return Path(folder)

    def _write_ref(self) -> None:
        # The download is pinned to the commit, so huggingface_hub records no branch; write the ref the
        # cache layout defines (refs/<revision> contains the commit id) so offline pulls by name find it.
        revision = self.revision or _DEFAULT_REVISION
        if revision == self.commit:
            return
        storage = Path(hub_constants.HF_HUB_CACHE) / repo_folder_name(repo_id=self.repo_id, repo_type="model")
        write_text_atomic(storage / "refs" / revision, self.commit)


def push_to_hub(repo_id: str, files: dict[str, Path], *, message: str, revision: str | None,
                private: bool) -> tuple[str, str]:
    """Upload ``files`` (repo path -> local file) as one commit; return the commit id and its URL.

    Files on the revision that are not in ``files`` are deleted in the same commit, except
    hidden files such as ``.gitattributes``, so the repo contains exactly the entry.
    """
    if offline_mode():
        raise ZooError(f"pushing to {repo_id} needs network access, but HF_HUB_OFFLINE=1 is set; "
                       f"unset it, or push to a folder remote (file:///path)")
    api = HfApi()
    try:
        api.create_repo(repo_id, private=True if private else None, exist_ok=True)
        if private and not api.repo_info(repo_id).private:
            raise ZooError(f"repo {repo_id} already exists and is public, so --private does not apply; make it "
                           f"private on the Hub first, or push without --private")
        if revision is not None:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        present = {f.path for f in api.list_repo_tree(repo_id, revision=revision, recursive=True)
                   if isinstance(f, RepoFile)}
        operations: list = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
                            for name, path in sorted(files.items())]
        operations += [CommitOperationDelete(path_in_repo=name) for name in sorted(present - set(files))
                       if not name.startswith(".") and name not in _KEEP_ON_PUSH]
        info = api.create_commit(repo_id, operations=operations, commit_message=message, revision=revision)
    except (HfHubHTTPError, TransportError) as error:
        raise _hub_error(error, repo_id, "pushing to") from None
    return info.oid, info.commit_url
