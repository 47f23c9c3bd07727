"""Use cases shared by the command line and the GUI (no Qt here).

A :class:`Context` carries what every use case needs: settings, manifests
and the one TokenManager of the process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from zhenglian.config import Settings
from zhenglian.manifest import ManifestSet, load_all
from zhenglian.tokens.manager import TokenManager


@dataclass
class Context:
    settings: Settings
    manifests: ManifestSet
    tokens: TokenManager
    extra_modules: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, extra_modules: Iterable[str] = (), settings: Settings | None = None) -> Context:
        settings = settings or Settings.load()
        manifests = load_all()
        modules = list(settings.extra_modules) + [m for m in extra_modules if m not in settings.extra_modules]
        return cls(settings, manifests, TokenManager(manifests, modules), list(extra_modules))
