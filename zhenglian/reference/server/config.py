"""The reference server's settings: where its data lives and its limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DB_NAME = "server.sqlite3"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    db_path: Path | None = None  # default: <data_dir>/server.sqlite3
    # The origin the server signs challenges for ("https://sign.example.org").
    # Empty: taken from each request (scheme + Host), fine behind no proxy.
    origin: str = ""
    token_ttl_s: int = 1800  # bearer tokens are short-lived
    challenge_ttl_s: int = 120
    ticket_ttl_s: int = 300
    max_upload_bytes: int = 50 * 1024 * 1024
    max_wait_s: float = 25.0  # upper bound of one long-poll

    @property
    def db(self) -> Path:
        return self.db_path or self.data_dir / DB_NAME

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
