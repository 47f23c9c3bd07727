"""One key's work with one signing server, for the GUI and the CLI (Qt-free).

Bundles what the tray app and ``zhenglian tasks`` need: the API client, the login kept in the
keyring, the outbox, the background :class:`~zhenglian.tasks.sync.TaskSync`,
batch signing with one PIN asked through a :class:`PinPrompter`, and the
seal preview of a task (where it will land, with which seal).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from zhenglian import errors
from zhenglian.server.models import Placement, Task
from zhenglian.services import Context
from zhenglian.tasks.outbox import Outbox
from zhenglian.tasks.sync import TaskSummary, TaskSync
from zhenglian.tokens import pin as pinops
from zhenglian.tokens.model import KeyInfo

if TYPE_CHECKING:
    from zhenglian.server.tokenstore import TokenStore
    from zhenglian.tasks.batch import BatchResult, Progress

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SealSpot:
    page: int  # 1-based
    x_mm: float
    y_mm: float
    width_mm: float
    height_mm: float
    kind: str  # seal | strip
    # Where the whole seal picture sits relative to this spot's left/top edge, and its
    # size (mm): a 骑缝章 strip shows the slice of the picture that falls inside the spot.
    image_dx_mm: float = 0.0
    image_width_mm: float = 0.0
    image_height_mm: float = 0.0

    @property
    def is_slice(self) -> bool:
        return self.kind == "strip"


@dataclass(frozen=True)
class TaskPreview:
    task: Task
    document: bytes
    seal_png: bytes | None
    seal_name: str
    spots: tuple[SealSpot, ...]
    movable: bool  # the operator may move the seal (placement by position, not anchor)
    problem: errors.ZhenglianError | None = None  # the task cannot be signed as it stands


class TaskWorkspace:
    def __init__(self, ctx: Context, key: KeyInfo, url: str | None = None, *,
                 tokens: TokenStore | None = None) -> None:
        """``tokens``: where the login is kept (default: the keyring, read in this process).
        The stored login is read when first needed (``session.logged_in``), on the thread
        that needs it: the tray's task sync, not the GUI."""
        from zhenglian.server.api import ServerClient
        from zhenglian.server.session import ServerSession
        from zhenglian.server.tokenstore import TokenStore

        url = url or ctx.settings.server_url
        if not url:
            raise errors.ServerNotConfigured()
        self.ctx = ctx
        self.key = key
        self.handle = ctx.tokens.handle(key)
        self.client = ServerClient(url, ca_bundle=ctx.settings.ca_bundle)
        self.session = ServerSession(self.client, key, tokens or TokenStore(), self.handle)
        self.outbox = Outbox()
        self.sync: TaskSync | None = None
        self._seals: list[Any] | None = None
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        return self.client.origin

    # --- background list ---------------------------------------------------------

    def start_sync(self, on_summary: Callable[[TaskSummary], None], on_new_tasks: Callable[[list[Task]], None],
                   on_error: Callable[[errors.ZhenglianError], None], wait_s: float = 10.0) -> TaskSync:
        self.sync = TaskSync(self.session, self.outbox, on_summary=on_summary, on_new_tasks=on_new_tasks,
                             on_error=on_error, wait_s=wait_s)
        self.sync.start()
        return self.sync

    def stop(self) -> None:
        if self.sync is not None:
            self.sync.stop(0.5)
        self.client.close()

    # --- login and signing (worker thread; the prompter shows dialogs) ---------------

    def login(self, prompter: pinops.PinPrompter) -> None:
        with pinops.interactive_session(self.handle, prompter) as p11:
            self.session.login(p11)
        if self.sync is not None:
            self.sync.wake()

    def call(self, prompter: pinops.PinPrompter, fn: Callable[..., T], *args: Any) -> T:
        """Call the server, logging in first (one PIN, through ``prompter``) when there
        is no stored login, and once more when the server says it has expired."""
        if not self.session.logged_in:
            self.login(prompter)
        try:
            return fn(*args)
        except errors.AuthRequired:
            self.session.forget()
            self.login(prompter)
            return fn(*args)

    def sign(self, task_ids: Sequence[str] | None, prompter: pinops.PinPrompter, *,
             progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
             placements: Mapping[str, Placement] | None = None,
             upload_wait_s: float = 30.0) -> BatchResult:
        """Every task (None: every pending one) with one PIN, asked once; the PIN is
        wiped when the batch is logged in."""
        from zhenglian.pdf.preload import pdf_stack
        from zhenglian.tasks.batch import sign_tasks  # the signing stack: loaded by the first batch

        pdf_stack()  # before the PIN: a preview worker may be importing pyHanko right now
        self.handle.check_usable()  # an expired certificate: refused before any PIN
        st, pin = pinops.gate_and_ask(self.handle, prompter)  # the factory PIN is refused there
        try:
            result = sign_tasks(self.session, self.handle, pin,
                                None if task_ids is None else list(task_ids), self.outbox,
                                progress=progress, cancel=cancel, confirmed_final_try=st.final_try,
                                placements=placements, upload_wait_s=upload_wait_s)
        finally:
            if pin is not None:
                pin.wipe()
        if self.sync is not None:
            self.sync.wake()
        return result

    # --- preview (no PIN: documents and public seals only) ------------------------------

    def _default_seal(self, task: Task) -> Any:
        from zhenglian.tasks import pipeline, sealpick

        with self._lock:
            if self._seals is None:
                server = self.client.seals if self.session.logged_in else None
                with self.handle.backend.session(self.key.serial) as p11:  # seal objects are public: no PIN
                    self._seals = pipeline.gather_seals(self.handle, p11, server)
            return sealpick.pick(self._seals, task)

    def preview(self, task: Task, placement: Placement | None = None) -> TaskPreview:
        from zhenglian.pdf.preload import pdf_stack

        pdf_stack()
        from zhenglian.pdf import placement as pl
        from zhenglian.pdf.document import open_pdf
        from zhenglian.tasks.signer import TaskSigner

        document = self.client.download(task)
        if placement is not None and not task.placement.anchor_text:
            import dataclasses

            task = dataclasses.replace(task, placement=placement)
        movable = not task.placement.anchor_text
        try:
            seal = self._default_seal(task)
        except errors.ZhenglianError as exc:
            return TaskPreview(task, document, None, "", (), False, exc)
        signer = TaskSigner(None, self.handle)
        try:
            placements, cross = signer.placements(document, task, seal)
            with open_pdf(document, name=task.title) as doc:
                groups = pl.resolve(doc, placements, seal, cross)
        except errors.ZhenglianError as exc:
            return TaskPreview(task, document, seal.png, seal.name, (), False, exc)
        spots = tuple(_seal_spot(spot) for group in groups for spot in group.spots)
        return TaskPreview(task, document, seal.png, seal.name, spots, movable)


def _seal_spot(spot: Any) -> SealSpot:
    """A resolved :class:`zhenglian.pdf.placement.Spot` as the preview draws it (mm, visible page)."""
    from zhenglian.pdf.geometry import MM

    d = spot.describe()
    dx, _dy, iw, ih = spot.image
    return SealSpot(d["page"], d["x_mm"], d["y_mm"], d["width_mm"], d["height_mm"], spot.kind,
                    image_dx_mm=dx / MM, image_width_mm=iw / MM, image_height_mm=ih / MM)
