"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests that cannot reach the network.

It implements the part of the Hub HTTP API that ``zoo push`` and ``zoo pull`` reach through
the real ``huggingface_hub`` client (routes and fields as huggingface_hub 2.4's ``hf_api.py``,
``_commit_api.py``, ``lfs.py`` and ``file_download.py`` use them):

- ``POST /api/repos/create``, ``POST /api/validate-yaml``
- ``GET /api/models/{repo}[/revision/{rev}]``, ``GET /api/models/{repo}/tree/{rev}``
- ``POST /api/models/{repo}/preupload/{rev}``, ``POST /api/models/{repo}/commit/{rev}``,
  ``POST /api/models/{repo}/branch/{branch}``
- the Git LFS batch API ``POST /{repo}.git/info/lfs/objects/batch`` with basic ``PUT`` uploads
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``

Repos live in memory as commits of whole file sets. ``*.safetensors`` and pickle files are stored
through LFS, as the Hub's default ``.gitattributes`` does, so the tree lists their sha256. The Xet
storage protocol is not implemented, so clients must run with ``HF_HUB_DISABLE_XET=1`` and upload
through the LFS batch API. Tests can also write commits directly (``put_commit``) to serve repos
that no client would upload, such as file names with ``..``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".pkl", ".ckpt")
GITATTRIBUTES = b"".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n".encode() for s in LFS_SUFFIXES)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(data: bytes) -> bytes:
    sha256 = hashlib.sha256(data).hexdigest()
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n".encode()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool
    served: bytes | None = None  # bytes sent on download in place of ``data``: corruption for tests

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def oid(self) -> str:
        """The git blob id: of the content, or of the LFS pointer that git stores in its place."""
        return git_blob_id(lfs_pointer(self.data) if self.lfs else self.data)

    def tree_entry(self, path: str) -> dict:
        entry = {"type": "file", "path": path, "size": len(self.data), "oid": self.oid}
        if self.lfs:
            entry["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": len(lfs_pointer(self.data))}
        return entry


@dataclass
class Repo:
    repo_id: str
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, dict[str, StoredFile]] = field(default_factory=dict)

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        return revision if revision in self.commits else None


class HubError(Exception):
    """An HTTP error response, with the Hub's X-Error-Code header when it has one."""

    def __init__(self, status: int, message: str, code: str | None = None, **fields: str):
        super().__init__(message)
        self.status, self.code, self.fields = status, code, fields


class HubStandIn:
    """The server and its in-memory repos; start it with ``with HubStandIn(tokens) as hub:``."""

    def __init__(self, tokens: set[str]):
        self.tokens = set(tokens)
        self.repos: dict[str, Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str] = []
        self.lock = threading.Lock()
        self._counter = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "HubStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # State changes, used by the HTTP routes and directly by tests.

    def create_repo(self, repo_id: str, private: bool = False) -> Repo:
        with self.lock:
            if repo_id in self.repos:
                raise HubError(409, f"You already created this model repo: {repo_id}", url=f"{self.url}/{repo_id}")
            repo = self.repos[repo_id] = Repo(repo_id, private)
        self.put_commit(repo_id, {".gitattributes": GITATTRIBUTES}, parent=None)
        return repo

    def put_commit(self, repo_id: str, files: dict[str, bytes | StoredFile], *, branch: str = "main",
                   parent: str | None | bool = True) -> str:
        """Make ``files`` the whole content of ``branch`` in one commit; return the commit id."""
        with self.lock:
            repo = self.repos[repo_id]
            stored = {path: f if isinstance(f, StoredFile) else StoredFile(f, path.endswith(LFS_SUFFIXES))
                      for path, f in files.items()}
            for item in stored.values():
                if item.lfs:
                    self.lfs_objects[item.sha256] = item.data
            self._counter += 1
            seed = json.dumps([repo_id, branch, self._counter, sorted((p, f.oid) for p, f in stored.items())])
            oid = hashlib.sha1(seed.encode()).hexdigest()
            repo.commits[oid] = stored
            repo.branches[branch] = oid
            return oid

    def files(self, repo_id: str, revision: str = "main") -> dict[str, StoredFile]:
        repo = self.repos[repo_id]
        return repo.commits[repo.resolve(revision)]


def _handler(hub: HubStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test output stays clean; hub.requests keeps the log

        # Plumbing.

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, data: object, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(data).encode(), headers)

        def _token(self) -> str | None:
            value = self.headers.get("Authorization", "")
            if value:
                hub.authorizations.append(value)
            return value[len("Bearer "):] if value.startswith("Bearer ") else None

        def _require_write(self) -> None:
            if self._token() not in hub.tokens:
                raise HubError(401, "Invalid credentials in Authorization header")

        def _repo(self, repo_id: str) -> Repo:
            repo = hub.repos.get(repo_id)
            if repo is None or (repo.private and self._token() not in hub.tokens):
                raise HubError(404, "Repository not found", "RepoNotFound")
            return repo

        def _commit_of(self, repo: Repo, revision: str) -> str:
            commit = repo.resolve(revision)
            if commit is None:
                raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
            return commit

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            hub.requests.append((self.command, url.path))
            parts = url.path.strip("/").split("/")
            try:
                self._route(parts, parse_qs(url.query))
            except HubError as error:
                headers = {"X-Error-Message": str(error)}
                if error.code:
                    headers["X-Error-Code"] = error.code
                self._json(error.status, {"error": str(error), **error.fields}, headers)

        do_GET = do_HEAD = do_POST = do_PUT = _dispatch

        # Routes.

        def _route(self, parts: list[str], query: dict) -> None:
            method = self.command
            if parts[:3] == ["api", "repos", "create"] and method == "POST":
                return self._create_repo()
            if parts[:2] == ["api", "validate-yaml"] and method == "POST":
                return self._validate_yaml()
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo_id, rest = f"{parts[2]}/{parts[3]}", parts[4:]
                if not rest and method == "GET":
                    return self._model_info(repo_id, "main")
                if rest[:1] == ["revision"] and method == "GET":
                    return self._model_info(repo_id, unquote(rest[1]))
                if rest[:1] == ["tree"] and method == "GET":
                    return self._tree(repo_id, unquote(rest[1]), unquote("/".join(rest[2:])))
                if rest[:1] == ["preupload"] and method == "POST":
                    return self._preupload(repo_id, unquote(rest[1]))
                if rest[:1] == ["commit"] and method == "POST":
                    return self._commit(repo_id, unquote(rest[1]))
                if rest[:1] == ["branch"] and method == "POST":
                    return self._branch(repo_id, unquote(rest[1]))
            if len(parts) == 6 and parts[2:] == ["info", "lfs", "objects", "batch"] and parts[1].endswith(".git"):
                return self._lfs_batch(f"{parts[0]}/{parts[1][:-4]}")
            if parts[:2] == ["lfs", "upload"] and method == "PUT":
                return self._lfs_upload(parts[2])
            if parts[:2] == ["lfs", "verify"] and method == "POST":
                return self._lfs_verify(parts[2])
            if len(parts) >= 5 and parts[2] == "resolve" and method in ("GET", "HEAD"):
                return self._resolve(f"{parts[0]}/{parts[1]}", unquote(parts[3]), unquote("/".join(parts[4:])))
            raise HubError(404, f"no route for {method} {self.path} in the Hub stand-in")

        def _create_repo(self) -> None:
            self._require_write()
            payload = json.loads(self._body())
            repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
            hub.create_repo(repo_id, private=payload.get("visibility") == "private")
            self._json(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})

        def _validate_yaml(self) -> None:
            content = json.loads(self._body())["content"]
            head, _, rest = content.partition("---\n")
            metadata, closed, _ = rest.partition("\n---")
            try:
                if head or not closed or not isinstance(yaml.safe_load(metadata), dict):
                    raise yaml.YAMLError("the card has no YAML metadata block")
            except yaml.YAMLError as error:
                return self._json(400, {"errors": [{"message": str(error)}], "warnings": []})
            self._json(200, {"errors": [], "warnings": []})

        def _model_info(self, repo_id: str, revision: str) -> None:
            repo = self._repo(repo_id)
            commit = self._commit_of(repo, revision)
            files = repo.commits[commit]
            self._json(200, {"id": repo_id, "sha": commit, "private": repo.private,
                             "lastModified": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                             "siblings": [{"rfilename": path} for path in sorted(files)]})

        def _tree(self, repo_id: str, revision: str, prefix: str) -> None:
            repo = self._repo(repo_id)
            files = repo.commits[self._commit_of(repo, revision)]
            folders = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
            entries = [{"type": "directory", "path": f, "oid": git_blob_id(f.encode()), "size": 0} for f in folders]
            entries += [f.tree_entry(path) for path, f in sorted(files.items())]
            self._json(200, [e for e in entries if not prefix or e["path"].startswith(prefix.rstrip("/") + "/")])

        def _preupload(self, repo_id: str, revision: str) -> None:
            self._require_write()
            repo = self._repo(repo_id)
            current = repo.commits[self._commit_of(repo, revision)]
            answers = []
            for item in json.loads(self._body())["files"]:
                lfs = item["path"].endswith(LFS_SUFFIXES)
                existing = current.get(item["path"])
                oid = None
                if existing is not None:
                    oid = existing.sha256 if existing.lfs else git_blob_id(existing.data)
                answers.append({"path": item["path"], "uploadMode": "lfs" if lfs else "regular",
                                "shouldIgnore": False, "oid": oid})
            self._json(200, {"files": answers})

        def _commit(self, repo_id: str, revision: str) -> None:
            self._require_write()
            repo = self._repo(repo_id)
            head = self._commit_of(repo, revision)
            files = dict(repo.commits[head])
            summary = ""
            for line in self._body().splitlines():
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    summary = value["summary"]
                    if value.get("parentCommit") not in (None, head):
                        raise HubError(412, "A commit has happened since the parent commit")
                elif key == "file":
                    files[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
                elif key == "lfsFile":
                    data = hub.lfs_objects.get(value["oid"])
                    if data is None:
                        raise HubError(400, f"LFS object {value['oid']} of {value['path']} was never uploaded")
                    files[value["path"]] = StoredFile(data, lfs=True)
                elif key == "deletedFile":
                    if files.pop(value["path"], None) is None:
                        raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
                elif key == "deletedFolder":
                    files = {p: f for p, f in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            if not summary:
                raise HubError(400, "the commit has no summary")
            oid = hub.put_commit(repo_id, files, branch=revision)
            self._json(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{oid}", "commitOid": oid,
                             "pullRequestUrl": None})

        def _branch(self, repo_id: str, branch: str) -> None:
            self._require_write()
            repo = self._repo(repo_id)
            if branch in repo.branches:
                raise HubError(409, f"Reference already exists: refs/heads/{branch}")
            start = json.loads(self._body() or b"{}").get("startingPoint") or "main"
            with hub.lock:
                repo.branches[branch] = self._commit_of(repo, start)
            self._json(200, {})

        def _lfs_batch(self, repo_id: str) -> None:
            self._require_write()
            self._repo(repo_id)
            objects = []
            for item in json.loads(self._body())["objects"]:
                answer = {"oid": item["oid"], "size": item["size"], "authenticated": True}
                if item["oid"] not in hub.lfs_objects:
                    answer["actions"] = {"upload": {"href": f"{hub.url}/lfs/upload/{item['oid']}"},
                                         "verify": {"href": f"{hub.url}/lfs/verify/{item['oid']}"}}
                objects.append(answer)
            self._json(200, {"transfer": "basic", "objects": objects})

        def _lfs_upload(self, oid: str) -> None:
            data = self._body()
            if hashlib.sha256(data).hexdigest() != oid:
                raise HubError(400, f"uploaded content does not match sha256 {oid}")
            with hub.lock:
                hub.lfs_objects[oid] = data
            self._send(200)

        def _lfs_verify(self, oid: str) -> None:
            self._require_write()
            item = json.loads(self._body())
            if len(hub.lfs_objects.get(oid, b"")) != item["size"] or oid not in hub.lfs_objects:
                raise HubError(404, f"LFS object {oid} is missing")
            self._send(200)

        def _resolve(self, repo_id: str, revision: str, path: str) -> None:
            repo = self._repo(repo_id)
            commit = self._commit_of(repo, revision)
            stored = repo.commits[commit].get(path)
            if stored is None:
                raise HubError(404, f"{path} does not exist at {commit}", "EntryNotFound")
            headers = {"X-Repo-Commit": commit, "ETag": f'"{stored.sha256 if stored.lfs else stored.oid}"'}
            if stored.lfs:
                headers.update({"X-Linked-Etag": f'"{stored.sha256}"', "X-Linked-Size": str(len(stored.data))})
            body = stored.data if stored.served is None else stored.served
            self._send(200, body, headers, content_type="application/octet-stream")

    return Handler
