"""Artifact store: the files on disk are the database (see DESIGN.md, "Artifact store").

Layout, ids and path safety (``ArtifactStore``), crash-safe IO (atomic JSON/CSV/safetensors
writes, append-only JSONL), per-item writer locks, content-addressed tensor blobs, and the
lineage index. Imports no model code; torch only carries tensors in and out of safetensors.
"""

from ttt.store.errors import (
    AlreadyExistsError,
    CorruptFileError,
    InvalidIdError,
    LockTimeoutError,
    NotFoundError,
    PathEscapeError,
    SchemaVersionError,
    StoreError,
)
from ttt.store.ids import ID_RE, is_valid_id, new_id, validate_id, validate_name
from ttt.store.io import (
    SCHEMA_VERSION,
    TMP_PREFIX,
    append_jsonl,
    atomic_write_bytes,
    atomic_write_text,
    check_schema_version,
    read_json,
    read_json_list,
    read_jsonl,
    read_jsonl_ex,
    read_tensor_metadata,
    read_tensors,
    write_csv,
    write_json,
    write_json_list,
    write_tensors,
)
from ttt.store.lineage import load_index, rebuild_index
from ttt.store.store import KINDS, ArtifactStore, tensor_digest

__all__ = [
    "ID_RE",
    "KINDS",
    "SCHEMA_VERSION",
    "TMP_PREFIX",
    "AlreadyExistsError",
    "ArtifactStore",
    "CorruptFileError",
    "InvalidIdError",
    "LockTimeoutError",
    "NotFoundError",
    "PathEscapeError",
    "SchemaVersionError",
    "StoreError",
    "append_jsonl",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_schema_version",
    "is_valid_id",
    "load_index",
    "new_id",
    "read_json",
    "read_json_list",
    "read_jsonl",
    "read_jsonl_ex",
    "read_tensor_metadata",
    "read_tensors",
    "rebuild_index",
    "tensor_digest",
    "validate_id",
    "validate_name",
    "write_csv",
    "write_json",
    "write_json_list",
    "write_tensors",
]
