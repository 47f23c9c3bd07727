"""Government systems offered in the 应用 panel, like the closed client's.

Defaults come from the CA's service guide; the user may add their own
(settings.apps: [{"name": …, "url": …}]).  The configured signing server's
page is offered too.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from zhenglian.config import Settings


@dataclass(frozen=True)
class App:
    id: str
    name_zh: str
    name_en: str
    url: str


DEFAULT_APPS = (
    App("dggjj-sign", "电子文件签署系统（机构端）", "Housing fund e-signing (institutions)",
        "https://tyrz.gd.gov.cn/pscp/sso/static/?redirect_uri=http%3A%2F%2Fwb.dggjj.dg.gov.cn"
        "%2Fgjjwt%2FgdbsDoLogin.do%3FreturnUrl%3DcertiSignDomain&client_id=dgzfgjj"),
    App("dggjj", "东莞市住房公积金管理中心", "Dongguan Housing Provident Fund Centre", "http://dggjj.dg.gov.cn"),
    App("netca", "网证通证书服务", "NETCA certificate services", "http://www.cnca.net"),
)


def normalise_url(text: str) -> str | None:
    """What the address field accepts: http(s) URLs, with the scheme added when missing."""
    text = text.strip()
    if not text:
        return None
    if "://" not in text:
        text = "http://" + text
    try:
        parsed = urlparse(text)
    except ValueError:  # an unmatched IPv6 bracket
        return None
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in text:
        return None
    return text


def apps(settings: Settings) -> list[App]:
    out = list(DEFAULT_APPS)
    if settings.server_url:
        out.insert(0, App("server", "签署服务器", "Signing server", settings.server_url))
    for i, item in enumerate(settings._extra.get("apps", [])):
        if isinstance(item, dict) and normalise_url(str(item.get("url", ""))):
            name = str(item.get("name", item["url"]))
            out.append(App(f"user-{i}", name, name, normalise_url(str(item["url"])) or ""))
    return out
