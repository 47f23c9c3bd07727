"""One look at the machine: keys seen through drivers, and USB keys without one."""

from __future__ import annotations

from dataclasses import dataclass, field

from zhenglian.manifest import Manifest, ManifestSet, candidate_paths
from zhenglian.tokens import usb
from zhenglian.tokens.manager import TokenManager
from zhenglian.tokens.model import KeyInfo


@dataclass(frozen=True)
class UnrecognisedKey:
    """A USB key of a known CA or maker that no loaded driver shows."""

    device: usb.UsbDevice
    manifest: Manifest
    driver_installed: bool  # a module file of this manifest exists on disk

    def message_zh(self) -> str:
        who = self.manifest.name_zh
        if not self.driver_installed:
            return f"检测到{who} UKey（{self.device.id}），但未安装驱动"
        return f"检测到{who} UKey（{self.device.id}），但驱动未能识别它"

    def message_en(self) -> str:
        who = self.manifest.name_en
        if not self.driver_installed:
            return f"A {who} key ({self.device.id}) is plugged in, but its driver is not installed"
        return f"A {who} key ({self.device.id}) is plugged in, but its driver does not see it"

    def advice_zh(self) -> str:
        m = self.manifest
        if not self.driver_installed:
            site = f"（{m.support.website}）" if m.support.website else ""
            return f"请安装{m.name_zh}的 UKey 驱动{site}后重新插拔 UKey。"
        client = m.vendor_client_name_zh or f"{m.name_zh}的证书客户端"
        return f"请先启动{client}，再重新插拔 UKey 后重试。"

    def to_dict(self) -> dict[str, object]:
        return {
            "usb_id": self.device.id,
            "usb_product": self.device.product,
            "manifest": self.manifest.id,
            "name_zh": self.manifest.name_zh,
            "name_en": self.manifest.name_en,
            "driver_installed": self.driver_installed,
            "message_zh": self.message_zh(),
            "message_en": self.message_en(),
            "advice_zh": self.advice_zh(),
        }


@dataclass(frozen=True)
class Snapshot:
    keys: tuple[KeyInfo, ...] = ()
    unrecognised: tuple[UnrecognisedKey, ...] = ()
    usb_devices: tuple[usb.UsbDevice, ...] = field(default=(), repr=False)


def unrecognised_keys(manifests: ManifestSet, keys: list[KeyInfo],
                      devices: list[usb.UsbDevice]) -> list[UnrecognisedKey]:
    # Keys on a software module (demo) are not USB keys: they recognise nothing.
    usb_keys = [k for k in keys if not k.demo]
    seen_ids = {k.ca_id for k in usb_keys} | {i for k in usb_keys for i in k.module_ids}
    out = []
    for dev in devices:
        m = manifests.for_usb(dev.vid, dev.pid)
        if m is None or m.is_demo:
            continue
        if m.id in seen_ids:
            continue
        installed = any(p.is_file() for p in candidate_paths(m))
        out.append(UnrecognisedKey(dev, m, installed))
    return out


def take(manager: TokenManager, devices: list[usb.UsbDevice] | None = None) -> Snapshot:
    keys = manager.scan()
    devices = usb.scan() if devices is None else devices
    return Snapshot(tuple(keys), tuple(unrecognised_keys(manager.manifests, keys, devices)), tuple(devices))
