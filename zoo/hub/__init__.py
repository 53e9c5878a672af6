"""Sharing entries: ``zoo push`` and ``zoo pull`` against the Hugging Face Hub or a folder remote.

Everything that travels is data: weights are read only as safetensors, every file is checked
against the remote's hashes and the card's sha256, and nothing from a remote is imported.
"""

from ._files import RemoteFile, name_problem
from ._folder import MANIFEST_FILE, content_id
from ._hub import offline_mode
from ._pull import PULL_RECORD, PluginStatus, PullResult, plugin_report, pull_entry, read_pull_record
from ._push import PushResult, check_entry_folder, push_entry
from ._remote import FOLDER, HUB, Remote, parse_remote

__all__ = [
    "FOLDER", "HUB", "MANIFEST_FILE", "PULL_RECORD", "PluginStatus", "PullResult", "PushResult", "Remote", "RemoteFile",
    "check_entry_folder", "content_id", "name_problem", "offline_mode", "parse_remote", "plugin_report", "pull_entry",
    "push_entry", "read_pull_record",
]
